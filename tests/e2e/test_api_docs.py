"""The API documentation (Swagger UI from the drf-spectacular-sidecar wheel) renders with no third-party request."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_every_route_from_our_own_server(browser, live_server):
    browser.get(browser.url("/api/v1/docs/"))
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    text = browser.find_element(By.CSS_SELECTOR, ".swagger-ui").text
    assert "SIJ Finder API" in text
    for path in ("/api/v1/search", "/api/v1/specialists/{id}", "/api/v1/shortlists", "/api/v1/shortlists/{id}"):
        assert path in text
    # Every file the page loaded (scripts, styles, the schema, images) came from this server.
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(url.endswith("/api/v1/schema/") for url in loaded)
    ours = urlsplit(live_server.url).netloc
    assert {urlsplit(url).netloc for url in loaded} == {ours}
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "api-docs-1280.png"))
    browser.set_window_size(390, 844)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    browser.save_screenshot(str(SCREENSHOTS / "api-docs-390.png"))
