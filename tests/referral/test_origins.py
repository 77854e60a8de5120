"""The per-process cache of search origins (referral/origins.py): fresh after every change it can see."""

import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.models import ZipCode
from referral import origins, resident
from referral.origins import ORIGIN_CACHE_SECONDS, search_origin
from tests.factories import PracticeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db

NEW_ZIP = "00009"  # no such ZIP in the USPS table the migrations load


def place(**fields):
    return ZipCode(code=NEW_ZIP, city="Testville", state="IL", latitude=41.0, longitude=-88.0, **fields)


def test_a_zip_loaded_after_a_miss_is_found():
    with pytest.raises(ValidationError, match="No such US ZIP"):
        search_origin(NEW_ZIP)
    ZipCode.objects.bulk_create([place()])  # a bulk load sends no signal: misses are never kept
    assert search_origin(f"{NEW_ZIP}-1234").point == (41.0, -88.0)


def test_a_saved_correction_is_seen_at_once():
    ZipCode.objects.bulk_create([place()])
    assert search_origin(NEW_ZIP).point == (41.0, -88.0)
    zip_code = ZipCode.objects.get(code=NEW_ZIP)
    zip_code.latitude, zip_code.longitude, zip_code.is_corrected = 42.0, -87.5, True
    zip_code.save()
    assert search_origin(NEW_ZIP).point == (42.0, -87.5)


def test_a_deleted_zip_is_refused_at_once():
    ZipCode.objects.bulk_create([place()])
    search_origin(NEW_ZIP)
    ZipCode.objects.get(code=NEW_ZIP).delete()
    with pytest.raises(ValidationError, match="No such US ZIP"):
        search_origin(NEW_ZIP)


def test_a_change_no_signal_announces_is_seen_once_the_entry_expires(monkeypatch):
    ZipCode.objects.bulk_create([place()])
    search_origin(NEW_ZIP)
    ZipCode.objects.filter(code=NEW_ZIP).update(latitude=43.0)  # as another process would, unseen here
    assert search_origin(NEW_ZIP).latitude == 41.0
    later = time.monotonic() + ORIGIN_CACHE_SECONDS + 1
    monkeypatch.setattr(origins.time, "monotonic", lambda: later)
    assert search_origin(NEW_ZIP).latitude == 43.0


def test_callers_get_their_own_copy():
    ZipCode.objects.bulk_create([place()])
    search_origin(NEW_ZIP).latitude = 0.0
    assert search_origin(NEW_ZIP).latitude == 41.0


def test_an_unlocated_zip_is_refused_every_time():
    ZipCode.objects.bulk_create([place(kind="military")])
    for _attempt in range(2):
        with pytest.raises(ValidationError, match="military"):
            search_origin(NEW_ZIP)


def test_a_repeated_search_skips_the_zip_query(client):
    SpecialistFactory(practices=[PracticeFactory(zip_code="60614", city="Chicago", state="IL")])
    resident.current(connection.alias)  # the index, written since this process read it, into memory
    with CaptureQueriesContext(connection) as first:
        assert client.get("/api/v1/search?zip=60614").status_code == 200
    with CaptureQueriesContext(connection) as second:
        response = client.get("/api/v1/search?zip=60614")
    assert response.json()["origin"]["zip"] == "60614"
    zip_queries = [query for query in first.captured_queries if "directory_zipcode" in query["sql"]]
    assert len(zip_queries) == 1
    assert len(second.captured_queries) == len(first.captured_queries) - 1
    assert not [query for query in second.captured_queries if "directory_zipcode" in query["sql"]]
