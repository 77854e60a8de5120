import os
import shutil
import threading

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(autouse=True)
def _unhashed_static_files(settings):
    """Tests run without collectstatic, so static URLs are plain paths (the manifest storage needs the manifest)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters():
    """Each test starts with no requests counted (the local-memory cache outlives a test)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _english_outside_a_request():
    """Each test starts in the site's language: the locale middleware leaves a request's language (Spanish after
    an Accept-Language: es request of the test client) active in the thread."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_search_origins():
    """Each test starts with no cached search origins: a ZIP a test changed is rolled back with its transaction,
    which no signal announces (referral/origins.py)."""
    from referral.origins import forget_origins

    forget_origins()


@pytest.fixture
def curator(db):
    from tests.factories import CuratorFactory

    return CuratorFactory()


@pytest.fixture
def curator_client(client, curator):
    client.force_login(curator)
    return client


@pytest.fixture
def browser(live_server):
    """A headless Chromium driven by Selenium (Debian packages chromium + chromium-driver), with
    `browser.url(path)` for the live server."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        message = "headless Chromium is not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it; a missing browser there is a broken run, not a skip
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(3)
    driver.url = lambda path: f"{live_server.url}{path}"
    driver.click_to_next_page = lambda element: click_to_next_page(driver, element)
    yield driver
    # One browser per test: quitting closes its kept-alive connections, so the live server's request threads end
    # here, while the test's database is still theirs (on SQLite they share it), not during a later test.
    driver.quit()
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=10)


def click_to_next_page(driver, element):
    """Click a link or submit button and wait until the next page has loaded.

    A mark on the current page's `window` tells the pages apart: it is gone once the browser has left. (Waiting for
    the old <html> element to go stale was flaky: Chromium sometimes answers the staleness probe with "Node with
    given id does not belong to the document", a WebDriverException, instead of a stale-element error.)"""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__sijLeaving = true")
    element.click()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !window.__sijLeaving && document.readyState === 'complete'")
    )


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: every test must really run there."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; every test must run in CI.", red=True)
        session.exitstatus = 1
