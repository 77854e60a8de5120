"""The optional cache of whole search answers (referral/response_cache.py), on a real local-memory cache and Redis."""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from directory.models import Procedure
from tests.factories import PhysicianFactory, PracticeFactory, ProcedureVolumeFactory, SpecialistFactory
from tests.servers import REDIS_URL, redis_keys

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SEARCH = reverse("referral:search")
API = reverse("referral:api-search")
QUERY = "?zip=60611&radius=25&prior_lumbar_fusion=yes"
CLIENT_ADDRESS = "203.0.113.77"  # a documentation address: it must appear nowhere in the cache
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')


@pytest.fixture(params=["locmem", "redis"])
def answers(request, settings):
    yield from search_cache(request.param, settings)


@pytest.fixture
def redis_answers(settings):
    yield from search_cache("redis", settings)


def search_cache(kind, settings):
    """The search cache on (300 s) in local memory or in the real Redis under a key prefix of this test's own.

    Yields an object whose `entries()` returns every (key, value) the cache holds, as bytes (for the privacy
    checks), and whose `prefix` is the Redis key prefix (None in local memory)."""
    settings.SIJ_SEARCH_CACHE_SECONDS = 300
    if kind == "locmem":
        location = f"test-search-{uuid.uuid4().hex}"
        settings.CACHES = {
            **settings.CACHES,
            "search": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location},
        }
        from django.core.cache import caches

        yield SimpleNamespace(
            prefix=None, entries=lambda: [(str(key).encode(), value) for key, value in caches["search"]._cache.items()]
        )
        caches["search"].clear()
        return
    with redis_keys("sij-test-search") as redis_db:
        settings.CACHES = {
            **settings.CACHES,
            "search": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_db.url,
                "KEY_PREFIX": redis_db.prefix,
            },
        }
        yield SimpleNamespace(
            prefix=redis_db.prefix, entries=lambda: [(key, redis_db.connection.get(key)) for key in redis_db.stored()]
        )


@pytest.fixture
def specialist():
    specialist = SpecialistFactory(
        first_name="Ada", last_name="Quinlan", practices=[PracticeFactory(zip_code="60611", city="Chicago", state="IL")]
    )
    SpecialistFactory(first_name="Bea", last_name="Ortiz", practices=[PracticeFactory(zip_code="60611")])
    return specialist


def fetch(client, url, **extra):
    response = client.get(url, REMOTE_ADDR=CLIENT_ADDRESS, **extra)
    assert response.status_code == 200
    return response


def without_tokens(html: bytes) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="…"', html.decode())


def test_the_cache_is_off_by_default(specialist, settings, client):
    assert settings.SIJ_SEARCH_CACHE_SECONDS == 0
    fetch(client, API + QUERY)
    with CaptureQueriesContext(connection) as queries:
        fetch(client, API + QUERY)
    assert len(queries) > 0  # searched again


@pytest.mark.parametrize("url", [API + QUERY, SEARCH + QUERY], ids=["api", "page"])
def test_a_cached_answer_equals_the_fresh_one_and_runs_no_query(
    answers, specialist, client, url, django_assert_num_queries
):
    fresh = fetch(client, url)
    with django_assert_num_queries(0):
        cached = fetch(Client(), url)  # another visitor, with no cookie at all
    assert without_tokens(cached.content) == without_tokens(fresh.content)
    assert "Ada Quinlan" in fresh.content.decode()
    assert cached["Content-Type"] == fresh["Content-Type"]
    assert cached.get("Content-Security-Policy") == fresh.get("Content-Security-Policy")  # middleware ran on it


def test_the_cache_stores_nothing_about_the_client_and_no_readable_query(answers, specialist, client):
    fetch(client, SEARCH + QUERY)
    fetch(client, API + QUERY)
    stored = answers.entries()
    assert len(stored) == 3  # the two answers and the generation counter
    for key, value in stored:
        assert b"60611" not in key and b"lumbar" not in key  # keys are hashes
        assert CLIENT_ADDRESS.encode() not in value
    page = next(value for _key, value in stored if b"<!doctype html>" in value)
    assert TOKEN.search(page.decode("utf-8", "replace")) is None  # no visitor's CSRF token is kept


def test_a_page_from_the_cache_carries_the_visitors_own_working_csrf_token(answers, specialist):
    fetch(Client(), SEARCH + QUERY)  # stores the page
    visitor = Client(enforce_csrf_checks=True)
    page = fetch(visitor, SEARCH + QUERY)
    assert "csrftoken" in page.cookies  # set as a fresh page would
    token = TOKEN.search(page.content.decode()).group(1)
    switched = visitor.post(reverse("set_language"), {"language": "es", "next": SEARCH, "csrfmiddlewaretoken": token})
    assert switched.status_code == 302  # not 403: the token matches this visitor's cookie


def test_a_changed_specialist_is_never_served_from_the_cache(
    answers, specialist, client, django_capture_on_commit_callbacks
):
    assert "Ada Quinlan" in fetch(client, API + QUERY).content.decode()
    assert "Ada Quinlan" in fetch(client, SEARCH + QUERY).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        specialist.last_name = "Quist"
        specialist.save()  # the directory announces the change once it is committed
    assert "Ada Quist" in fetch(client, API + QUERY).content.decode()
    assert "Ada Quist" in fetch(client, SEARCH + QUERY).content.decode()


def test_a_new_procedure_count_is_never_served_from_the_cache(
    answers, specialist, client, django_capture_on_commit_callbacks
):
    before = fetch(client, API + QUERY).json()
    ada = next(result for result in before["results"] if result["id"] == specialist.pk)
    assert ada["volumes"] == []
    with django_capture_on_commit_callbacks(execute=True):
        ProcedureVolumeFactory(specialist=specialist, procedure=Procedure.MIS_SI_FUSION, count=40)
    after = fetch(client, API + QUERY).json()
    ada = next(result for result in after["results"] if result["id"] == specialist.pk)
    assert [volume["count"] for volume in ada["volumes"]] == [40]


def test_a_change_announced_by_another_process_reaches_this_one_through_redis(redis_answers, specialist, client):
    # (In local memory each process has its own answers: another's change reaches them after their lifetime.)
    fetch(client, API + QUERY)
    fetch(client, SEARCH + QUERY)
    # Another process (a curator's admin save served by another worker) announces a change to the directory.
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "test-only",
        "DATABASE_URL": "sqlite://:memory:",
        "CACHE_URL": REDIS_URL,
        "SIJ_SEARCH_CACHE_PREFIX": redis_answers.prefix,
        "SIJ_SEARCH_CACHE_SECONDS": "300",
    }
    # What its receiver of directory.models.specialists_changed does there (its search index is not this test's).
    script = "import django; django.setup(); from referral import response_cache; response_cache.forget_answers()"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, check=True, capture_output=True)
    # Here nothing was announced, and yet both answers are searched again (and the name is read from the database).
    type(specialist).objects.filter(pk=specialist.pk).update(last_name="Quist")
    assert "Ada Quist" in fetch(client, API + QUERY).content.decode()
    assert "Ada Quist" in fetch(client, SEARCH + QUERY).content.decode()


def test_each_language_has_its_own_answer(answers, specialist):
    english = fetch(Client(), SEARCH + QUERY).content.decode()
    spanish = fetch(Client(), SEARCH + QUERY, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="en">' in english
    assert '<html lang="es">' in spanish
    assert '<html lang="es">' in fetch(Client(), SEARCH + QUERY, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="en">' in fetch(Client(), SEARCH + QUERY).content.decode()


def test_signed_in_visitors_are_neither_served_nor_stored(answers, specialist, client, django_assert_num_queries):
    anonymous = fetch(Client(), SEARCH + QUERY).content.decode()
    assert "My shortlists" not in anonymous
    client.force_login(PhysicianFactory())
    signed_in = fetch(client, SEARCH + QUERY).content.decode()
    assert "My shortlists" in signed_in and "Add to shortlist" in signed_in
    stored = len(answers.entries())
    fetch(client, SEARCH + QUERY)
    assert len(answers.entries()) == stored  # nothing of theirs was stored
    with django_assert_num_queries(0):
        assert "My shortlists" not in fetch(Client(), SEARCH + QUERY).content.decode()


def test_only_the_same_query_string_is_the_same_answer(answers, specialist, client):
    first = fetch(client, SEARCH + QUERY).content.decode()
    reordered = fetch(client, SEARCH + "?radius=25&prior_lumbar_fusion=yes&zip=60611").content.decode()
    assert "zip=60611&amp;radius=25" in first
    assert "radius=25&amp;prior_lumbar_fusion=yes&amp;zip=60611" in reordered  # its own links, not the first's


def test_an_unreachable_cache_leaves_the_search_working_uncached(specialist, settings, client, caplog):
    settings.SIJ_SEARCH_CACHE_SECONDS = 300
    settings.CACHES = {
        **settings.CACHES,
        "search": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    for url in (API + QUERY, SEARCH + QUERY):
        assert "Ada Quinlan" in fetch(client, url).content.decode()
    assert "Search cache not used: the cache is unreachable" in caplog.text
    assert "60611" not in caplog.text and "lumbar" not in caplog.text  # the query is never logged
