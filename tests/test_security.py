"""Security rules that hold across the apps: lock-out per user and client, rate limits, headers, safe links.

docs/security.md lists each rule with the test here that shows it.
"""

import json
import re
from html.parser import HTMLParser

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.serializers import serialize
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from config.security import client_ip
from directory.links import safe_url
from shortlists.models import ApiToken, ShareLink
from tests.factories import PhysicianFactory, ShortlistFactory, SpecialistFactory
from tests.servers import redis_keys

PASSWORD = "correct-horse-battery"  # UserFactory's
PROXY = "10.0.0.2"


# --- Who the client is ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "", "203.0.113.5"),
        (0, "203.0.113.5", "198.51.100.7", "203.0.113.5"),  # no trusted proxy: the header is the client's word
        (1, PROXY, "198.51.100.7", "198.51.100.7"),
        (1, PROXY, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # what the client prepended is ignored
        (2, PROXY, "6.6.6.6, 198.51.100.7, 10.0.0.1", "198.51.100.7"),
        (1, PROXY, "2001:db8::1", "2001:db8::1"),
        (1, PROXY, "", PROXY),  # came around the proxy
        (2, PROXY, "198.51.100.7", PROXY),
        (1, PROXY, "not-an-address", PROXY),
    ],
)
def test_client_ip_trusts_x_forwarded_for_only_as_far_as_the_configured_proxies(
    settings, trusted, remote, forwarded, expected
):
    settings.SIJ_TRUSTED_PROXY_COUNT = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# --- Lock-out per username and client ---------------------------------------------------------------------


@pytest.fixture(params=["direct", "behind-proxy"])
def from_address(request, settings):
    """Return a function giving the request headers of a client at an address, directly or through one proxy."""
    if request.param == "direct":
        settings.SIJ_TRUSTED_PROXY_COUNT = 0
        return lambda address: {"REMOTE_ADDR": address}
    settings.SIJ_TRUSTED_PROXY_COUNT = 1
    return lambda address: {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": address}


def sign_in(client, username, password, headers):
    return client.post(reverse("login"), {"username": username, "password": password}, **headers)


def page_text(response):
    """The page without its per-request CSRF token, to compare two answers."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


@pytest.mark.django_db
def test_five_bad_passwords_lock_only_that_user_from_that_client(client, from_address, settings):
    alice, bob = PhysicianFactory(), PhysicianFactory()
    x, y = from_address("198.51.100.7"), from_address("203.0.113.9")
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        last = sign_in(client, alice.username, "wrong", x)
    assert last.status_code == 429
    assert sign_in(client, alice.username, PASSWORD, x).status_code == 429  # locked, even with the password

    assert sign_in(client, bob.username, PASSWORD, x).status_code == 302  # another user from the same client
    client.post(reverse("logout"))
    assert sign_in(client, alice.username, PASSWORD, y).status_code == 302  # the same user from elsewhere
    assert client.session["_auth_user_id"] == str(alice.pk)


@pytest.mark.django_db
def test_unknown_and_known_usernames_get_the_same_answers(client, from_address, settings):
    known = PhysicianFactory()
    answers = {}
    for username, address in ((known.username, "198.51.100.7"), ("nobody-by-this-name", "198.51.100.8")):
        headers = from_address(address)
        first = sign_in(client, username, "wrong", headers)
        for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
            locked = sign_in(client, username, "wrong", headers)
        answers[username] = (
            first.status_code,
            page_text(first).replace(username, "U"),
            locked.status_code,
            page_text(locked),
        )
    known_answer, unknown_answer = answers.values()
    assert known_answer == unknown_answer
    assert "Please enter a correct username and password" in known_answer[1]
    assert "Too many sign-in attempts" in known_answer[3]


# --- Rate limits ------------------------------------------------------------------------------------------


@pytest.fixture(params=["redis", "locmem"])
def counters(request, settings):
    """The rate-limit counters in the real Redis (CACHE_URL set) or in local memory (the default).

    With Redis, yields a function listing this test's keys there (where every process would see them)."""
    if request.param == "locmem":
        yield None
        return
    with redis_keys("sij-test") as redis_db:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_db.url,
                "KEY_PREFIX": redis_db.prefix,
            }
        }
        yield redis_db.stored


def assert_too_many(response, period_seconds):
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= period_seconds
    assert "Too many requests" in response.content.decode()


def assert_counted_in(counters):
    if counters is not None:  # the counts are in Redis, where every process sees them
        assert counters()


@pytest.mark.django_db
def test_search_page_answers_429_past_the_rate_for_one_client_only(client, counters, settings):
    settings.SIJ_RATE_SEARCH = "3/m"
    url = reverse("referral:search") + "?zip=60611"
    for _request in range(3):
        assert client.get(url, REMOTE_ADDR="198.51.100.7").status_code == 200
    assert_too_many(client.get(url, REMOTE_ADDR="198.51.100.7"), 60)
    assert client.get(url, REMOTE_ADDR="203.0.113.9").status_code == 200
    assert_counted_in(counters)


@pytest.mark.django_db
def test_account_requests_are_limited_per_client(client, counters, settings):
    settings.SIJ_RATE_ACCOUNT_REQUEST = "2/h"
    url = reverse("shortlists:account-request")
    for index in range(2):
        response = client.post(url, {"name": "Dr Test", "email": f"t{index}@example.org"}, REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 200  # the form's own errors (no NPI): counted all the same
    assert_too_many(client.post(url, {"name": "Dr Test"}, REMOTE_ADDR="198.51.100.7"), 3600)
    assert client.get(url, REMOTE_ADDR="198.51.100.7").status_code == 200  # reading the form is not limited
    assert_counted_in(counters)


@pytest.mark.django_db
def test_password_reset_mail_is_limited_per_email_address(client, counters, settings):
    settings.SIJ_RATE_PASSWORD_RESET_EMAIL = "2/h"
    PhysicianFactory(email="doc@example.org")
    url = reverse("password_reset")
    for address in ("198.51.100.7", "203.0.113.9"):
        assert client.post(url, {"email": "doc@example.org"}, REMOTE_ADDR=address).status_code == 302
    assert_too_many(client.post(url, {"email": " DOC@example.org "}, REMOTE_ADDR="192.0.2.4"), 3600)
    assert len(mail.outbox) == 2
    assert_counted_in(counters)


@pytest.mark.django_db
def test_password_reset_is_limited_per_client(client, counters, settings):
    settings.SIJ_RATE_PASSWORD_RESET = "2/h"
    url = reverse("password_reset")
    for index in range(2):
        assert client.post(url, {"email": f"a{index}@example.org"}, REMOTE_ADDR="198.51.100.7").status_code == 302
    assert_too_many(client.post(url, {"email": "a9@example.org"}, REMOTE_ADDR="198.51.100.7"), 3600)
    assert client.post(url, {"email": "a9@example.org"}, REMOTE_ADDR="203.0.113.9").status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_sign_in_attempts_are_limited_per_client_whatever_the_username(client, counters, settings, login_url):
    settings.SIJ_RATE_LOGIN = "3/h"
    physician = PhysicianFactory(is_staff=True)
    for index in range(3):
        response = client.post(login_url, {"username": f"guess{index}", "password": "x"}, REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 200
    response = client.post(
        login_url, {"username": physician.username, "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert_too_many(response, 3600)
    assert (
        client.post(
            login_url, {"username": physician.username, "password": PASSWORD}, REMOTE_ADDR="203.0.113.9"
        ).status_code
        == 302
    )


@pytest.mark.django_db  # the search form lists the curated insurance
def test_rate_limits_let_requests_through_when_redis_is_unreachable(client, settings, caplog):
    # A closed port on this machine: the counter cannot be read, the page still answers.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    settings.SIJ_RATE_SEARCH = "1/m"
    assert client.get(reverse("referral:search")).status_code == 200
    assert client.get(reverse("referral:search")).status_code == 200
    assert "Rate limit search not checked" in caplog.text


# --- Headers ----------------------------------------------------------------------------------------------


class InlineCode(HTMLParser):
    """Collect what a no-inline Content-Security-Policy would block: inline scripts, styles, on* handlers."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{name}= on <{tag}>" for name in attrs if name.startswith("on") or name == "style"]
        if tag == "a" and (attrs.get("href") or "").strip().lower().startswith("javascript:"):
            self.found.append("javascript: link")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def pages(db):
    """Every page a visitor, a physician or a curator can see, by who sees it."""
    specialist = SpecialistFactory(website="https://example.org/dr")
    shortlist = ShortlistFactory(specialists=[specialist])
    _link, token = ShareLink.create_for(shortlist)
    public = [
        "/",
        "/search/",
        "/search/?zip=60611",
        "/search/?zip=60611&radius=abc",  # the form with errors
        f"/specialists/{specialist.pk}/",
        f"/specialists/{specialist.pk}/?zip=60611",
        "/about/si-joint/",
        "/accounts/login/",
        "/accounts/request/",
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        f"/shortlists/shared/{token}/",
        "/shortlists/shared/unknown/",
        "/admin/login/",
        "/no-such-page/",
    ]
    physician = [
        "/shortlists/",
        "/shortlists/new/",
        f"/shortlists/{shortlist.pk}/",
        f"/shortlists/{shortlist.pk}/delete/",
        "/shortlists/api-token/",
    ]
    curator = [
        "/admin/",
        "/admin/directory/specialist/",
        f"/admin/directory/specialist/{specialist.pk}/change/",
        f"/admin/directory/specialist/{specialist.pk}/history/",
        "/admin/directory/specialist/add/",
        "/admin/directory/specialist/import/",
        "/admin/directory/reviewstub/",
    ]
    return {"public": public, "physician": (shortlist.owner, physician), "curator": curator}


def assert_strict_policy(response):
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy and "http" not in policy


def test_every_public_page_has_the_policy_and_no_inline_code(client, pages):
    for url in pages["public"]:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert_strict_policy(response)
        assert inline_code(response.content.decode()) == [], url


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/about/si-joint/", "/search/?zip=60611"])
def test_patient_pages_are_not_marked_no_store(client, url):
    assert "no-store" not in client.get(url).get("Cache-Control", "")


def test_every_physician_page_has_the_policy_no_inline_code_and_no_store(client, pages):
    owner, urls = pages["physician"]
    client.force_login(owner)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict_policy(response)
        assert inline_code(response.content.decode()) == [], url
        assert "no-store" in response["Cache-Control"], url
    for url in (
        reverse("shortlists:api-token"),
        reverse("shortlists:shortlist-share", args=[owner.shortlists.get().pk]),
    ):
        response = client.post(url)  # the pages that show a token or link once
        assert inline_code(response.content.decode()) == [], url
        assert "data-select-on-focus" in response.content.decode()
        assert "no-store" in response["Cache-Control"], url


def test_our_admin_pages_have_the_policy_and_no_inline_code(curator_client, pages):
    for url in pages["curator"]:
        response = curator_client.get(url)
        assert response.status_code == 200, url
        assert_strict_policy(response)
        found = inline_code(response.content.decode())
        if url.endswith("/history/"):  # django-simple-history's template has one style= (a border; harmless)
            found = [item for item in found if item != "style= on <p>"]
        assert found == [], url
        assert "no-store" in response["Cache-Control"], url


@pytest.mark.django_db
def test_json_for_a_signed_in_user_or_a_token_is_no_store(client):
    physician = PhysicianFactory()
    ShortlistFactory(owner=physician)
    key = ApiToken.issue(physician)
    response = client.get("/api/v1/shortlists", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "no-store" in response["Cache-Control"]
    client.force_login(physician)
    assert "no-store" in client.get("/api/v1/shortlists")["Cache-Control"]
    export = client.get(reverse("shortlists:shortlist-export-csv", args=[physician.shortlists.get().pk]))
    assert "no-store" in export["Cache-Control"]


@pytest.mark.django_db
def test_a_rejected_token_is_not_cached_either(client):
    response = client.get("/api/v1/shortlists", HTTP_AUTHORIZATION="Token wrong")
    assert response.status_code == 401
    assert "no-store" in response["Cache-Control"]


# --- Links ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.org/dr", "https://example.org/dr"),
        ("http://example.org", "http://example.org"),
        ("  HTTPS://Example.org/a?b=c#d ", "https://Example.org/a?b=c#d"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("\x01javascript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("//evil.example/", None),
        ("https:evil", None),
        ("https://", None),
        ("http://[::1", None),
        ("/relative", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url_lets_only_http_and_https_with_a_host_become_links(value, expected):
    assert safe_url(value) == expected


@given(st.text())
def test_safe_url_never_returns_another_scheme(value):
    result = safe_url(value)
    assert result is None or result.split(":", 1)[0].lower() in {"http", "https"}


@pytest.mark.django_db
def test_a_javascript_website_loaded_from_a_fixture_renders_as_text(client, tmp_path):
    specialist = SpecialistFactory()
    record = json.loads(serialize("json", [specialist]))
    record[0]["fields"]["website"] = "javascript:alert(document.cookie)"
    fixture = tmp_path / "restore.json"
    fixture.write_text(json.dumps(record))
    call_command("loaddata", fixture, verbosity=0)  # no model validation on this path

    html = client.get(specialist.get_absolute_url()).content.decode()
    assert "Practice website: javascript:alert(document.cookie)" in html
    assert inline_code(html) == []
    assert 'href="javascript' not in html.lower()

    # The API and the FHIR API check it when they answer, too: no javascript: URL leaves the site.
    profile = client.get(f"/api/v1/specialists/{specialist.pk}")
    assert profile.status_code == 200 and profile.json()["website"] is None
    roles = client.get("/fhir/PractitionerRole", {"practitioner": f"Practitioner/{specialist.pk}"})
    assert roles.status_code == 200 and "javascript" not in roles.content.decode().lower()


@pytest.mark.django_db
def test_an_http_website_renders_as_a_link(client):
    specialist = SpecialistFactory(website="https://example.org/dr-test")
    html = client.get(specialist.get_absolute_url()).content.decode()
    assert '<a href="https://example.org/dr-test" rel="noopener">Practice website</a>' in html


def test_the_favicon_is_ours_on_every_page(client):
    """Pages link the icon; browsers that ask /favicon.ico anyway (the admin, JSON) are sent to it, not a 404."""
    assert 'rel="icon" href="/static/img/favicon.svg"' in client.get("/").content.decode()
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/img/favicon.svg"
