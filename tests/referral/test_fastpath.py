"""The private Django and psycopg APIs the search relies on (referral/fastpath.py): fail loudly when they change."""

import inspect

import psycopg
import pytest
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from directory.models import Procedure, ProcedureVolume, Specialist
from referral.fastpath import BinaryCursor, Loaded, fetch_all, set_prefetched
from tests.factories import ProcedureVolumeFactory, SpecialistFactory


def test_django_still_has_the_private_names_fastpath_uses():
    queryset = QuerySet(ProcedureVolume)
    assert queryset._result_cache is None and queryset._prefetch_done is False  # what Loaded sets
    assert isinstance(inspect.getattr_static(QuerySet, "query"), property)  # Loaded replaces it
    assert "_query" in vars(queryset)
    for name in ("make_cursor", "make_debug_cursor", "ensure_connection"):
        assert callable(getattr(BaseDatabaseWrapper, name)), name
    assert isinstance(inspect.getattr_static(BaseDatabaseWrapper, "queries_logged"), property)


def test_psycopg_cursors_still_take_binary_and_prepare():
    parameters = inspect.signature(psycopg.Cursor.execute).parameters
    assert {"binary", "prepare"} <= set(parameters)
    assert issubclass(BinaryCursor, psycopg.Cursor)


@pytest.mark.django_db
def test_prefetched_rows_are_read_without_a_query_and_filters_still_query(django_assert_num_queries):
    specialist = SpecialistFactory()
    mis = ProcedureVolumeFactory(specialist=specialist, procedure=Procedure.MIS_SI_FUSION)
    injections = ProcedureVolumeFactory(specialist=specialist, procedure=Procedure.SI_INJECTION, count=50)
    ProcedureVolumeFactory(procedure=Procedure.SI_INJECTION)  # someone else's
    specialist = Specialist.objects.get(pk=specialist.pk)
    set_prefetched(specialist, "volumes", ProcedureVolume, [mis, injections])

    with django_assert_num_queries(0):
        volumes = specialist.volumes.all()
        assert isinstance(volumes, Loaded)
        assert list(volumes) == [mis, injections] and len(volumes) == 2 and volumes.count() == 2
        assert volumes.exists() and volumes[1] == injections and volumes.first() == mis
    with django_assert_num_queries(1):  # needs SQL: the real related query, this specialist's rows only
        assert list(specialist.volumes.filter(procedure=Procedure.SI_INJECTION)) == [injections]
    with django_assert_num_queries(1):
        assert specialist.volumes.order_by("-count").first() == injections
    assert list(specialist.volumes.all()) == [mis, injections]  # the loaded rows are still there


@pytest.mark.django_db
def test_fetch_all_returns_typed_rows_and_is_logged_like_any_query():
    SpecialistFactory(last_name="Osei")
    table = connection.ops.quote_name(Specialist._meta.db_table)
    sql = f"SELECT id, last_name, 1.5 * %s FROM {table} WHERE last_name = %s"
    with CaptureQueriesContext(connection) as queries:
        rows = fetch_all("default", sql, [2.0, "Osei"])
    assert [(type(pk), name, value) for pk, name, value in rows] == [(int, "Osei", 3.0)]
    assert any("last_name" in query["sql"] for query in queries)  # Django's query log still sees it
