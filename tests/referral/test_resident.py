"""Each process's copy of the search index (referral.resident): read again after every kind of write to the
index, never used for a state it was not read from, and the search the same without it."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from directory.models import Practice, ZipCode
from referral import resident
from referral.matching import find_specialists
from referral.models import SearchEntry, SearchIndexStamp
from tests.referral.test_matching import specialist_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def chicago():
    return ZipCode.objects.get(code="60611")


def found(origin, **kwargs):
    return [match.specialist.pk for match in find_specialists(origin=origin, radius_miles=50, **kwargs).matches]


def index_reads(origin, radius_miles=50) -> int:
    """How many queries of a search read the search index's rows: the copy's (all of them) or a scan's (`AS e`),
    not the page's rows by id."""
    with CaptureQueriesContext(connection) as queries:
        find_specialists(origin=origin, radius_miles=radius_miles)
    table = connection.ops.quote_name(SearchEntry._meta.db_table)
    return sum(query["sql"].endswith(f"FROM {table}") or f"{table} AS e" in query["sql"] for query in queries)


def test_the_copy_is_read_once_and_again_after_a_write(chicago):
    for _ in range(3):  # enough within the radius: no widening beyond it (its queries read the index)
        specialist_at("60614")
    assert index_reads(chicago) == 1  # the index was written since: read into memory
    assert index_reads(chicago) == 0  # current: not read again
    specialist_at("60540")
    assert index_reads(chicago) == 1


def test_every_kind_of_write_shows_in_the_next_search(chicago):
    first = specialist_at("60614", accepting_new_patients=True)
    second, third = specialist_at("60540"), specialist_at("60540")
    assert sorted(found(chicago)) == sorted([first.pk, second.pk, third.pk])
    Practice.objects.filter(specialists=second).delete()  # a cascading delete: no signal refreshes the index
    assert sorted(found(chicago)) == sorted([first.pk, third.pk])
    with connection.cursor() as cursor:  # raw SQL, past every Django signal
        cursor.execute(f"DELETE FROM {SearchEntry._meta.db_table} WHERE specialist_id = %s", [third.pk])
    assert found(chicago) == [first.pk]
    score = find_specialists(origin=chicago, radius_miles=50).matches[0].score
    SearchEntry.objects.filter(specialist=first).update(availability=0)  # an update: no longer accepting
    assert find_specialists(origin=chicago, radius_miles=50).matches[0].score < score
    before = resident.current(connection.alias)
    SearchEntry.objects.filter(specialist=first).update(training=1)
    assert resident.current(connection.alias).token != before.token


def test_a_copy_read_inside_a_rolled_back_transaction_is_not_used_after_it(chicago):
    kept = specialist_at("60614")
    assert found(chicago) == [kept.pk]
    with transaction.atomic():
        gone = specialist_at("60540")
        assert sorted(found(chicago)) == sorted([kept.pk, gone.pk])  # its own writes, as a query would see them
        transaction.set_rollback(True)
    assert found(chicago) == [kept.pk]


def test_without_its_stamp_the_search_asks_the_database_until_the_index_is_written(chicago):
    specialists = [specialist_at("60614").pk for _ in range(3)]  # enough: no widening beyond the radius
    SearchIndexStamp.objects.all().delete()  # e.g. a flushed database
    assert resident.current(connection.alias) is None
    assert sorted(found(chicago)) == sorted(specialists)
    assert index_reads(chicago) == 1  # the index's rows, every search
    specialists.append(specialist_at("60540").pk)  # the next write brings the stamp back
    assert resident.current(connection.alias) is not None
    assert sorted(found(chicago)) == sorted(specialists)
    assert index_reads(chicago) == 0


def test_the_search_is_the_same_without_the_copy(chicago, settings):
    for code in ("60614", "60540", "60115", "53202"):
        specialist_at(code)
    with_copy = find_specialists(origin=chicago, radius_miles=100, page_size=2)
    assert index_reads(chicago, 100) == 0
    settings.SIJ_SEARCH_IN_MEMORY = False
    assert index_reads(chicago, 100) == 1
    without = find_specialists(origin=chicago, radius_miles=100, page_size=2)
    summary = [(m.specialist.pk, m.practice.pk, m.distance_miles, m.score) for m in with_copy.matches]
    assert summary == [(m.specialist.pk, m.practice.pk, m.distance_miles, m.score) for m in without.matches]
    assert (with_copy.count, with_copy.has_next) == (without.count, without.has_next) == (4, True)


def test_the_copy_holds_the_rows_ordered_by_latitude(chicago, monkeypatch):
    for code in ("53202", "60614", "60540", "60115", "60611"):
        specialist_at(code)
    monkeypatch.setattr(resident, "CHUNK", 2)  # read in three chunks
    copy = resident.current(connection.alias)
    assert copy.latitudes == sorted(SearchEntry.objects.values_list("latitude", flat=True))
    assert copy.table.num_rows == SearchEntry.objects.count() == 5
    assert sorted(copy.table.column("valid_until").to_pylist()) == sorted(
        SearchEntry.objects.values_list("valid_until", flat=True)
    )
    assert copy.within_latitudes(41.7, 42.0).column("latitude").to_pylist() == [
        latitude for latitude in copy.latitudes if 41.7 <= latitude <= 42.0
    ]
