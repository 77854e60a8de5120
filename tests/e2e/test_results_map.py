"""The results map in a real browser: across the antimeridian, with the origin on top, and nothing cut at 360 px."""

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from directory.importers.zipcodes import load_zipcodes
from directory.models import ZipCode
from tests.factories import PracticeFactory, SpecialistFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

pytestmark = pytest.mark.browser

# Places on both sides of the antimeridian, west to east as seen from Guam (longitudes 144.8 … -87.6).
PLACES = [
    ("Guam", "96910", "Hagatna", "GU"),
    ("Adak", "99546", "Adak", "AK"),  # the Aleutians, at -177.1
    ("Samoa", "96799", "Pago Pago", "AS"),
    ("Hawaii", "96813", "Honolulu", "HI"),
    ("California", "90001", "Los Angeles", "CA"),
    ("Chicago", "60611", "Chicago", "IL"),
]


def have_zipcodes(*codes):
    if ZipCode.objects.filter(code__in=codes).count() < len(codes):  # an earlier transactional test flushed it
        load_zipcodes()


@pytest.fixture
def pacific_directory(transactional_db):
    """One published specialist in each of PLACES, named after the place."""
    have_zipcodes(*(code for _, code, _, _ in PLACES))
    for name, code, city, state in PLACES:
        SpecialistFactory(
            first_name="Dr", last_name=name, practices=[PracticeFactory(zip_code=code, city=city, state=state)]
        )


@pytest.fixture
def crowded_chicago(transactional_db):
    """Nine specialists around Chicago, most at the edges of the map (Evanston, the West Side) and two in the
    searched ZIP: markers at one ZIP fan out around their spot (and the dot), the farthest out at the map's edge."""
    have_zipcodes("60611", "60201", "60612")
    for index, code in enumerate(["60201"] * 5 + ["60611"] * 2 + ["60612"] * 2):
        SpecialistFactory(last_name=f"Chicago{index}", practices=[PracticeFactory(zip_code=code)])


def open_map(browser, width, code):
    browser.set_window_size(width, 900)
    browser.get(browser.url(f"/search/?zip={code}"))
    WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#results-map .leaflet-outlines-pane path"))
    )


def rect(browser, element):
    return browser.execute_script("const r = arguments[0].getBoundingClientRect(); return r.toJSON();", element)


def centre_x(browser, element):
    box = rect(browser, element)
    return box["left"] + box["width"] / 2


def marker_x_by_place(browser):
    """Return {place: screen x of its marker's centre}, from the markers' titles ("A. Dr Hawaii, MD")."""
    markers = browser.find_elements(By.CSS_SELECTOR, "#results-map .map-marker")
    place = {f"Dr {name}": name for name, *_ in PLACES}
    titles = [(marker.get_attribute("title").split(". ", 1)[1].split(",")[0], marker) for marker in markers]
    return {place[title]: centre_x(browser, marker) for title, marker in titles}


def inside(inner, outer):
    return (
        inner["left"] >= outer["left"]
        and inner["right"] <= outer["right"]
        and inner["top"] >= outer["top"]
        and inner["bottom"] <= outer["bottom"]
    )


def overlap(a, b):
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def assert_nothing_cut(browser, width):
    map_box = rect(browser, browser.find_element(By.ID, "results-map"))
    assert map_box["left"] >= 0 and map_box["right"] <= width
    controls = [
        rect(browser, browser.find_element(By.CSS_SELECTOR, f"#results-map .leaflet-control-{name}"))
        for name in ("zoom", "attribution")
    ]
    for marker in browser.find_elements(By.CSS_SELECTOR, "#results-map .map-marker span"):
        box = rect(browser, marker)
        assert inside(box, map_box), marker.text
        assert not any(overlap(box, control) for control in controls), marker.text  # under the zoom or credits
    legend = browser.find_element(By.ID, "map-legend")
    assert legend.is_displayed()
    assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", legend)
    assert browser.execute_script("return document.scrollingElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1280, 390])
def test_from_guam_the_results_lie_east_across_the_antimeridian(browser, pacific_directory, width):
    open_map(browser, width, "96910")
    x = marker_x_by_place(browser)
    assert sorted(x) == sorted(name for name, *_ in PLACES)  # Guam within 50 miles, the others beyond (A–E)
    # West to east from Guam, not Guam at the far right of a map of the US.
    assert [name for name, _ in sorted(x.items(), key=lambda item: item[1])] == [name for name, *_ in PLACES]

    origin = browser.find_element(By.CSS_SELECTOR, "#results-map .leaflet-origin-pane path.map-origin")
    origin_box = rect(browser, origin)
    assert centre_x(browser, origin) < x["Adak"]
    assert inside(origin_box, rect(browser, browser.find_element(By.ID, "results-map")))
    # The dot is drawn above the markers, and the practice in the searched ZIP sits beside it, not over it.
    z_index = "return Number(getComputedStyle(document.querySelector(arguments[0])).zIndex)"
    assert browser.execute_script(z_index, "#results-map .leaflet-origin-pane") > browser.execute_script(
        z_index, "#results-map .leaflet-marker-pane"
    )
    guam = browser.find_element(By.CSS_SELECTOR, '#results-map .map-marker[title^="1. Dr Guam"] span')
    assert not overlap(rect(browser, guam), origin_box)
    assert_nothing_cut(browser, width)
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"e2e-map-guam-{width}.png"))


@pytest.mark.parametrize("code", ["96799", "99546", "60611"])  # American Samoa, Adak in the Aleutians, Chicago
def test_from_each_side_of_the_antimeridian_guam_lies_west_of_hawaii(browser, pacific_directory, code):
    open_map(browser, 1280, code)
    x = marker_x_by_place(browser)
    # The searched place's own marker is fanned out beside the dot (up to 30 px): the dot marks where it is.
    searched = next(name for name, place_code, *_ in PLACES if place_code == code)
    x[searched] = centre_x(browser, browser.find_element(By.CSS_SELECTOR, "#results-map path.map-origin"))
    assert [name for name, _ in sorted(x.items(), key=lambda item: item[1])] == [name for name, *_ in PLACES]


@pytest.mark.parametrize("width", [1280, 390, 360])
def test_crowded_map_cuts_no_marker_or_legend(browser, crowded_chicago, width):
    open_map(browser, width, "60611")
    labels = [marker.text for marker in browser.find_elements(By.CSS_SELECTOR, "#results-map .map-marker")]
    assert sorted(labels, key=int) == [str(rank) for rank in range(1, 10)]
    assert_nothing_cut(browser, width)
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"e2e-map-chicago-{width}.png"))
