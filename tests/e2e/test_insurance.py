"""In a real browser: a patient keeps only offices that take Medicare and sees the insurance on the cards and the
profile; a curator ticks a practice's insurance in the admin. Screenshots at 1280 and 390 px."""

import datetime
import importlib

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from directory.models import Insurance
from tests.e2e.test_compare_and_report import screenshots
from tests.factories import PracticeFactory, SpecialistFactory, UserFactory, ensure_zipcodes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def offices_near_60611():
    ensure_zipcodes()
    if not Insurance.objects.exists():  # the same: the list the migration loads
        importlib.import_module("directory.migrations.0018_practice_insurance").load_insurance(
            importlib.import_module("django.apps").apps, None
        )
    confirmed = datetime.date(2025, 11, 3)
    takes_medicare = PracticeFactory(name="Lakeshore Spine Center", zip_code="60611", insurance_confirmed_on=confirmed)
    takes_medicare.insurance.set(Insurance.objects.filter(code__in=["medicare", "tricare", "bcbs", "self_pay"]))
    commercial = PracticeFactory(name="West Side Pain Clinic", zip_code="60612", insurance_confirmed_on=confirmed)
    commercial.insurance.set(Insurance.objects.filter(code__in=["aetna", "cigna"]))
    unknown = PracticeFactory(name="North Shore Rehab", zip_code="60201", city="Evanston")
    return {
        "medicare": SpecialistFactory(
            first_name="Maria", last_name="Alvarez", offers_mis_si_fusion=True, practices=[takes_medicare]
        ),
        "commercial": SpecialistFactory(
            first_name="James", last_name="Okafor", offers_rf_ablation=True, practices=[commercial]
        ),
        "unknown": SpecialistFactory(
            first_name="Noel", last_name="Nearby", offers_conservative_care=True, practices=[unknown]
        ),
    }


def test_a_patient_keeps_offices_that_take_medicare_and_sees_it_confirmed(browser, offices_near_60611):
    browser.get(browser.url("/search/?zip=60611"))
    cards = browser.find_elements(By.CSS_SELECTOR, ".result-card")
    assert len(cards) == 3
    unknown = browser.find_element(By.ID, f"result-{offices_near_60611['unknown'].pk}")
    assert "Insurance: not on file. Ask the office which insurance it takes." in unknown.text
    screenshots(browser, "results-insurance")

    browser.find_element(By.CSS_SELECTOR, "details.more-filters summary").click()
    Select(browser.find_element(By.NAME, "insurance")).select_by_visible_text("Medicare")
    browser.click_to_next_page(browser.find_element(By.CSS_SELECTOR, "details.more-filters ~ button[type=submit]"))
    assert "insurance=medicare" in browser.current_url
    [card] = browser.find_elements(By.CSS_SELECTOR, ".result-card")
    assert "Maria Alvarez" in card.text
    assert "Insurance accepted: Medicare, TRICARE, Blue Cross Blue Shield, Self-pay (no insurance)" in card.text
    assert "confirm with the office" in card.text
    screenshots(browser, "results-insurance-medicare")

    browser.click_to_next_page(card.find_element(By.LINK_TEXT, "Maria Alvarez"))
    assert "As the office confirmed it on Nov. 3, 2025" in browser.find_element(By.CSS_SELECTOR, ".practice-list").text
    screenshots(browser, "profile-insurance")


def test_a_curator_ticks_a_practice_s_insurance(browser, offices_near_60611):
    curator = UserFactory(username="curator.kim", is_staff=True, is_superuser=True)
    practice = offices_near_60611["unknown"].practices.get()
    browser.get(browser.url(f"/admin/login/?next=/admin/directory/practice/{practice.pk}/change/"))
    browser.find_element(By.NAME, "username").send_keys(curator.username)
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.click_to_next_page(browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    for name in ("Medicare", "Humana", "Workers' compensation"):
        browser.find_element(By.XPATH, f'//label[normalize-space()="{name}"]').click()
    browser.find_element(By.NAME, "insurance_confirmed_on").send_keys("2025-11-03")
    screenshots(browser, "admin-practice-insurance")
    browser.click_to_next_page(browser.find_element(By.NAME, "_continue"))
    practice.refresh_from_db()
    assert [entry.code for entry in practice.insurance.all()] == ["medicare", "humana", "workers_comp"]
    assert practice.insurance_confirmed_on == datetime.date(2025, 11, 3)
