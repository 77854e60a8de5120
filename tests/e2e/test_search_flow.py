"""A patient searches by ZIP in a real browser, sees ranked results on a list and a map, and opens a profile."""

import datetime
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from directory.models import Procedure
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory, TrainingFactory, ensure_zipcodes

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

pytestmark = pytest.mark.browser


@pytest.fixture
def chicago_directory(transactional_db):
    """Three published specialists around Chicago: an experienced surgeon, a nearer generalist, an injector."""
    ensure_zipcodes()
    end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    start = end - datetime.timedelta(days=364)
    surgeon = SpecialistFactory(
        first_name="Maria",
        last_name="Alvarez",
        credentials="MD, FAAOS",
        offers_mis_si_fusion=True,
        offers_diagnostic_si_injection=True,
        offers_conservative_care=True,
        verified_at=timezone.now(),
        practices=[PracticeFactory(name="Lakeshore Spine Center", zip_code="60201", city="Evanston")],
    )
    ProcedureVolumeFactory(specialist=surgeon, count=34, period_start=start, period_end=end, verified=True)
    TrainingFactory(specialist=surgeon)
    SpecialistFactory(first_name="Noel", last_name="Nearby", practices=[PracticeFactory(zip_code="60611")])
    injector = SpecialistFactory(
        first_name="James",
        last_name="Okafor",
        offers_diagnostic_si_injection=True,
        offers_rf_ablation=True,
        practices=[PracticeFactory(name="West Side Pain Clinic", zip_code="60612")],
    )
    ProcedureVolumeFactory(
        specialist=injector, procedure=Procedure.SI_INJECTION, count=120, period_start=start, period_end=end
    )
    return surgeon


def test_search_from_home_shows_ranked_results_and_map_then_a_profile(browser, chicago_directory):
    browser.get(browser.url("/"))
    browser.find_element(By.ID, "id_zip").send_keys("60611")
    Select(browser.find_element(By.ID, "id_diagnostic_injection")).select_by_value("relieved")
    browser.find_element(By.ID, "id_conservative_months").send_keys("8")
    browser.find_element(By.CSS_SELECTOR, ".search-card button[type=submit]").click()

    WebDriverWait(browser, 10).until(expected_conditions.title_contains("specialists near 60611"))
    cards = browser.find_elements(By.CSS_SELECTOR, ".result-list .result-card")
    names = [card.find_element(By.CSS_SELECTOR, "h3 a").text for card in cards]
    assert names[0] == "Maria Alvarez"  # experience outranks being the nearest
    assert set(names) == {"Maria Alvarez", "Noel Nearby", "James Okafor"}
    assert "3 specialists within 50 miles" in browser.find_element(By.CSS_SELECTOR, ".results-count").text

    # Leaflet initialised on the map container and drew one numbered marker per result (tiles may be offline).
    WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#results-map.leaflet-container"))
    )
    markers = browser.find_elements(By.CSS_SELECTOR, "#results-map .map-marker")
    assert sorted(marker.text for marker in markers) == ["1", "2", "3"]
    assert browser.find_element(By.ID, "results-map").get_attribute("aria-label").startswith("Map of")
    first = cards[0]
    assert first.find_element(By.CSS_SELECTOR, ".contact-links a[href^='tel:+1']").text.startswith("Call (")
    directions = first.find_element(By.CSS_SELECTOR, "a.contact-directions")
    assert directions.get_attribute("href").startswith("https://www.openstreetmap.org/directions?to=")
    assert directions.get_attribute("rel") == "noreferrer"
    assert "new patients" in first.find_element(By.CSS_SELECTOR, ".availability").text
    assert first.find_element(By.CSS_SELECTOR, ".verified-on").text
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "e2e-search-results.png"))
    for width in (1280, 390):
        browser.set_window_size(width, 1600)
        browser.save_screenshot(str(SCREENSHOTS / f"e2e-results-cards-{width}.png"))
    browser.set_window_size(1280, 900)

    cards[0].find_element(By.CSS_SELECTOR, "h3 a").click()
    WebDriverWait(browser, 10).until(expected_conditions.title_contains("Maria Alvarez"))
    assert "zip=60611" in browser.current_url and "diagnostic_injection=relieved" in browser.current_url
    match = browser.find_element(By.CSS_SELECTOR, ".match-card").text
    assert "Why this specialist ranked here" in match
    assert "from ZIP 60611" in match
    assert "34" in browser.find_element(By.CSS_SELECTOR, "table.volumes").text
    assert "Questions to ask this specialist" in browser.page_source
    assert browser.find_elements(By.CSS_SELECTOR, ".practice-list a[href^='tel:+1']")
    for width in (1280, 390):
        browser.set_window_size(width, 1600)
        browser.save_screenshot(str(SCREENSHOTS / f"e2e-profile-{width}.png"))


def resource_urls(browser):
    return browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")


def search_map(browser, width):
    browser.set_window_size(width, 900)
    browser.get(browser.url("/search/?zip=60611"))
    WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#results-map .leaflet-outlines-pane path"))
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_map_asks_no_third_party_and_draws_state_outlines(browser, chicago_directory, width):
    search_map(browser, width)
    outlines = browser.find_elements(By.CSS_SELECTOR, "#results-map .leaflet-outlines-pane path")
    assert len(outlines) >= 50  # one path per state outline
    assert not browser.find_elements(By.CSS_SELECTOR, "#results-map .leaflet-tile")
    assert sorted(m.text for m in browser.find_elements(By.CSS_SELECTOR, "#results-map .map-marker")) == ["1", "2", "3"]
    assert "U.S. Census Bureau" in browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
    urls = resource_urls(browser)
    assert any(url.endswith("/static/geo/us-states.geojson") for url in urls)
    assert all(url.startswith(browser.url("/")) for url in urls), urls  # nothing from another origin
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"e2e-search-map-outlines-{width}.png"))


def test_map_uses_a_configured_tile_server(browser, chicago_directory, settings):
    # A tile server on the test's own origin that has no tiles: the layer is requested, fails, and says so.
    settings.SIJ_MAP_TILE_URL = browser.url("/static/no-tiles/{z}/{x}/{y}.png")
    settings.SIJ_MAP_TILE_ATTRIBUTION = "Test tiles"
    search_map(browser, 1280)
    WebDriverWait(browser, 10).until(expected_conditions.visibility_of_element_located((By.ID, "map-status")))
    assert "could not load" in browser.find_element(By.ID, "map-status").text
    assert any("/static/no-tiles/" in url for url in resource_urls(browser))
    assert "Test tiles" in browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
