"""Every answer under /api/ is JSON, errors included, through one exception handler (config/api.py)."""

import json
import secrets

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client, RequestFactory

from config.api import exception_handler, handler404, handler500
from shortlists.models import ApiToken, Shortlist
from tests.factories import PhysicianFactory, PracticeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db

SHORTLISTS = "/api/v1/shortlists"


@pytest.fixture
def api():
    return Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(PhysicianFactory())}")


def post(client, body: str, content_type="application/json"):
    return client.post(SHORTLISTS, data=body, content_type=content_type)


def assert_json_error(response, status: int, field: str, words: str = "") -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert field in errors, errors
    assert words in " ".join(errors[field])


def test_json_nested_5000_levels_deep_is_a_400_naming_the_body(api):
    assert_json_error(post(api, "[" * 5000 + "]" * 5000), 400, "body", "nested too deeply")
    assert_json_error(post(api, '{"title": ' + "[" * 5000 + "]" * 5000 + "}"), 400, "body", "nested too deeply")
    assert not Shortlist.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"title": {"nested": "object"}}, "title", "Not a valid string."),
        ({"title": ["T"]}, "title", "Not a valid string."),
        ({"title": "T", "origin_zip": {"zip": "60611"}}, "origin_zip", "Not a valid string."),
        ({"title": "T", "radius_miles": "٥٠"}, "radius_miles", "valid integer"),
        ({"title": "T", "radius_miles": {"miles": 5}}, "radius_miles", "valid integer"),
        ({"title": "T", "situation": {"conservative_months": {"n": 1}}}, "situation.conservative_months", ""),
        ({"title": "T", "items": [{"specialist": {"id": 1}}]}, "items", "Item 1"),
        ({"title": "T", "owner": 1, "id": 5}, "owner", "Unknown field."),
        ("just a string", "body", "Send a JSON object."),
        (None, "body", "No data provided"),
    ],
)
def test_wrong_types_and_unknown_fields_are_400s_naming_the_field(api, body, field, words):
    assert_json_error(post(api, json.dumps(body)), 400, field, words)
    assert not Shortlist.objects.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_that_are_not_json_are_refused(api, constant):
    assert_json_error(post(api, f'{{"title": "T", "radius_miles": {constant}}}'), 400, "body", "Send a JSON object.")


def test_a_body_over_the_limit_is_a_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"title": "T", "items": [{"specialist": 1, "note": "x" * 1000}] * 1100})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert_json_error(post(api, body), 413, "body", "larger than 1,048,576 bytes")
    assert not Shortlist.objects.exists()


def test_a_body_that_is_not_json_is_a_415(api):
    assert_json_error(post(api, "title=T", content_type="text/plain"), 415, "content_type", "application/json")


def test_a_body_that_is_not_utf8_is_a_400(api):
    response = api.post(SHORTLISTS, data=b'{"title": "\xff\xfe"}', content_type="application/json")
    assert_json_error(response, 400, "body", "Send a JSON object.")


def test_unknown_api_routes_are_json_404s_and_pages_stay_html(client):
    assert_json_error(client.get("/api/v1/nothing-here"), 404, "path", "No such API route.")
    assert_json_error(client.get("/api/v2/search?zip=60611"), 404, "path")
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_wrong_method_on_the_profile_is_a_json_405(client):
    specialist = SpecialistFactory()
    response = client.delete(f"/api/v1/specialists/{specialist.pk}")
    assert_json_error(response, 405, "method", "DELETE is not allowed here; use GET.")
    assert response["Allow"] == "GET, HEAD"


def test_the_500_handler_answers_json_under_api_and_html_elsewhere():
    factory = RequestFactory()
    api = handler500(factory.get("/api/v1/search?zip=60611"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    assert json.loads(api.content) == {"errors": {"server": ["Something went wrong on our side; please try again."]}}
    page = handler500(factory.get("/search/?zip=60611"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
    assert handler404(factory.get("/api/v1/x"), None)["Content-Type"] == "application/json"


def test_an_unavailable_database_is_a_503_with_retry_after():
    response = exception_handler(OperationalError("connection refused"), {"request": None, "view": None})
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.SIJ_RETRY_AFTER_SECONDS)
    assert response.data == {
        "errors": {"server": ["The directory is unavailable for a moment; please try again shortly."]}
    }


def test_an_unexpected_exception_is_left_to_the_500_handler():
    assert exception_handler(ZeroDivisionError(), {"request": None, "view": None}) is None


# --- Throttling -------------------------------------------------------------------------------------------


@pytest.fixture
def low_rates(settings):
    cache.clear()  # the counts of earlier tests (user ids repeat after a rollback)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"search": "3/min", "shortlists": "2/min"},
    }


def address() -> str:
    """A client address of this test alone (the counters live in the shared cache)."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def test_search_and_profile_are_throttled_per_client(client, low_rates):
    specialist = SpecialistFactory(practices=[PracticeFactory(zip_code="60614")])
    mine, other = address(), address()
    urls = ["/api/v1/search?zip=60611", f"/api/v1/specialists/{specialist.pk}", "/api/v1/search?zip=00000"]
    assert [client.get(url, REMOTE_ADDR=mine).status_code for url in urls] == [200, 200, 400]
    refused = client.get("/api/v1/search?zip=60611", REMOTE_ADDR=mine)
    assert_json_error(refused, 429, "throttle", "Too many requests; try again in")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert client.get(f"/api/v1/specialists/{specialist.pk}", REMOTE_ADDR=mine).status_code == 429
    assert client.get("/api/v1/search?zip=60611", REMOTE_ADDR=other).status_code == 200


def test_a_spoofed_forwarded_for_header_does_not_reset_the_count(client, low_rates):
    mine = address()
    for _ in range(3):
        client.get("/api/v1/search?zip=60611", REMOTE_ADDR=mine)
    response = client.get("/api/v1/search?zip=60611", REMOTE_ADDR=mine, HTTP_X_FORWARDED_FOR=address())
    assert response.status_code == 429


def test_the_shortlist_api_is_throttled_per_user(low_rates):
    first = Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(PhysicianFactory())}", REMOTE_ADDR=address())
    second = Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(PhysicianFactory())}", REMOTE_ADDR=address())
    assert [first.get(SHORTLISTS).status_code for _ in range(3)] == [200, 200, 429]
    assert_json_error(first.get(SHORTLISTS), 429, "throttle")
    assert second.get(SHORTLISTS).status_code == 200
