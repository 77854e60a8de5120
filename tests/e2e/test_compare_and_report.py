"""In a real browser: pick two specialists from the results and compare them; report a wrong phone from a profile,
then a curator finds the report in the admin and resolves it."""

import datetime
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from directory.models import Procedure, ProfileReport, ReportStatus
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory, UserFactory, ensure_zipcodes

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def directory_near_60611():
    ensure_zipcodes()
    cache.clear()  # the report rate limit counts in the cache
    end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    start = end - datetime.timedelta(days=364)
    surgeon = SpecialistFactory(
        first_name="Maria",
        last_name="Alvarez",
        credentials="MD, FAAOS",
        offers_mis_si_fusion=True,
        offers_diagnostic_si_injection=True,
        telehealth=True,
        verified_at=timezone.now(),
        practices=[PracticeFactory(name="Lakeshore Spine Center", zip_code="60201", city="Evanston")],
    )
    ProcedureVolumeFactory(specialist=surgeon, count=34, period_start=start, period_end=end, verified=True)
    injector = SpecialistFactory(
        first_name="James",
        last_name="Okafor",
        offers_diagnostic_si_injection=True,
        offers_rf_ablation=True,
        accepting_new_patients=False,
        practices=[PracticeFactory(name="West Side Pain Clinic", zip_code="60612")],
    )
    ProcedureVolumeFactory(
        specialist=injector, procedure=Procedure.SI_INJECTION, count=120, period_start=start, period_end=end
    )
    SpecialistFactory(first_name="Noel", last_name="Nearby", practices=[PracticeFactory(zip_code="60611")])
    return surgeon, injector


def screenshots(browser, name):
    """Save the whole page at 1280 and 390 px wide, then restore the window."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        browser.set_window_size(width, 900)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(height + 100, 6000))
        # Let the resized page paint (two animation frames) before the capture.
        browser.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")
        browser.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
    browser.set_window_size(1280, 900)


def test_pick_two_from_the_results_and_compare_them(browser, directory_near_60611):
    surgeon, injector = directory_near_60611
    browser.get(browser.url("/search/?zip=60611&diagnostic_injection=relieved&conservative_months=8"))
    for specialist in (surgeon, injector):
        browser.find_element(By.CSS_SELECTOR, f'input[name=ids][value="{specialist.pk}"]').click()
    screenshots(browser, "results-compare-ticked")
    browser.click_to_next_page(browser.find_element(By.CSS_SELECTOR, "#compare-form button[type=submit]"))

    assert browser.title.startswith("Compare Maria Alvarez, James Okafor")
    assert "zip=60611" in browser.current_url and "diagnostic_injection=relieved" in browser.current_url
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, ".compare-table thead th")]
    assert [head.splitlines()[0] for head in heads] == ["Maria Alvarez, MD, FAAOS", "James Okafor, MD"]
    table = browser.find_element(By.CSS_SELECTOR, ".compare-table").text
    assert "Distance from ZIP 60611" in table and "34" in table and "120" in table
    assert table.count("Match score") == 2
    screenshots(browser, "compare")

    # Ticking only one: a clear error, not a comparison.
    browser.get(browser.url("/search/?zip=60611"))
    browser.find_element(By.CSS_SELECTOR, f'input[name=ids][value="{surgeon.pk}"]').click()
    browser.click_to_next_page(browser.find_element(By.CSS_SELECTOR, "#compare-form button[type=submit]"))
    assert "Choose two or three specialists to compare" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text


def test_report_a_wrong_phone_then_a_curator_resolves_it(browser, directory_near_60611):
    surgeon, _injector = directory_near_60611
    browser.get(browser.url(surgeon.get_absolute_url()))
    browser.find_element(By.CSS_SELECTOR, ".report-details summary").click()
    browser.find_element(By.CSS_SELECTOR, 'input[name=problem][value="wrong_phone"]').click()
    browser.find_element(By.NAME, "details").send_keys("The number is disconnected; the office now uses 847-555-0199.")
    screenshots(browser, "profile-report-form")
    browser.click_to_next_page(browser.find_element(By.CSS_SELECTOR, ".report-form button[type=submit]"))
    assert "Thank you. Our curators will check this profile." in browser.find_element(By.CSS_SELECTOR, ".messages").text
    report = ProfileReport.objects.get()
    assert report.specialist == surgeon and report.status == ReportStatus.OPEN

    curator = UserFactory(username="curator.kim", is_staff=True, is_superuser=True)
    browser.get(browser.url("/admin/login/?next=/admin/directory/profilereport/"))
    browser.find_element(By.NAME, "username").send_keys(curator.username)
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.click_to_next_page(browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    listing = browser.find_element(By.ID, "result_list").text
    assert "Maria Alvarez" in listing and "The phone number is wrong" in listing and "847-555-01" in listing
    screenshots(browser, "admin-problem-reports")

    browser.click_to_next_page(browser.find_element(By.LINK_TEXT, f"#{report.pk}"))
    Select(browser.find_element(By.NAME, "status")).select_by_value("resolved")
    browser.find_element(By.NAME, "resolution_note").send_keys("Called the office; phone updated.")
    browser.click_to_next_page(browser.find_element(By.NAME, "_save"))
    assert "Maria Alvarez" not in browser.find_element(By.ID, "changelist").text  # no open reports left
    report.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED and report.resolved_by == curator

    browser.get(browser.url(f"/admin/directory/specialist/{surgeon.pk}/history/"))
    assert f"Problem report #{report.pk} resolved" in browser.find_element(By.ID, "content").text
