"""A referring physician signs in, searches, shortlists two specialists, reorders them and exports CSV."""

import csv
import io

import pytest
from selenium.webdriver.common.by import By

from tests.factories import PhysicianFactory, ProcedureVolumeFactory, SpecialistFactory, ensure_zipcodes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def item_names(browser):
    return [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".shortlist-item h3")]


def test_sign_in_search_shortlist_reorder_and_export_csv(browser):
    ensure_zipcodes()
    physician = PhysicianFactory(username="dr.ames")
    for last_name, count in (("Arden", 40), ("Brightwater", 12)):
        ProcedureVolumeFactory(specialist=SpecialistFactory(first_name="Sam", last_name=last_name), count=count)

    browser.get(browser.url("/accounts/login/?next=/search/%3Fzip%3D60611"))
    browser.find_element(By.NAME, "username").send_keys(physician.username)
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.click_to_next_page(browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert "/search/" in browser.current_url

    # One click per result: the first creates a list, the second goes to that list (now the default choice).
    for position in range(2):
        forms = browser.find_elements(By.CSS_SELECTOR, "form.shortlist-add")
        assert len(forms) == 2
        browser.click_to_next_page(forms[position].find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert "Added Sam" in browser.find_element(By.CSS_SELECTOR, ".messages").text

    browser.click_to_next_page(browser.find_element(By.LINK_TEXT, "My shortlists"))
    browser.click_to_next_page(browser.find_element(By.CSS_SELECTOR, ".shortlist-index a"))
    before = item_names(browser)
    assert sorted(before) == ["Sam Arden, MD", "Sam Brightwater, MD"]

    browser.click_to_next_page(browser.find_elements(By.CSS_SELECTOR, "button[name=direction][value=down]")[0])
    after = item_names(browser)
    assert after == list(reversed(before))

    # Download the CSV with the browser's own session cookie.
    export_url = browser.find_element(By.LINK_TEXT, "CSV").get_attribute("href")
    text = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text()).then(done);",
        export_url,
    )
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(row["Rank"], row["Name"]) for row in rows] == [
        ("1", after[0].removesuffix(", MD")),
        ("2", after[1].removesuffix(", MD")),
    ]
