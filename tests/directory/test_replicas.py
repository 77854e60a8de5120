"""Read replicas: patient search and profile reads go to a replica alias; writes and signed-in pages to the primary.

The replica here is a second database alias to the same test database (as `DATABASE_REPLICA_URLS` would add one
for a real replica), so both aliases see the same rows and the test can see which alias served each query.
"""

import pytest
from django.db import connections
from django.db.utils import load_backend
from django.test import Client, override_settings

from directory.models import Specialist
from directory.replicas import ReplicaRouter, reads_from_replica, replica_reads
from tests.factories import PhysicianFactory, PracticeFactory, SpecialistFactory, ensure_zipcodes


@pytest.fixture
def replica():
    """A second connection, `replica1`, to the running test database, as DATABASE_REPLICA_URLS would add.

    Made after the test database is set up (so it points at it) and registered as a connection but not as a
    configured alias: Django's test isolation allows such connections. The test's committed rows are visible
    through both.
    """
    ensure_zipcodes()
    default = connections["default"]
    connection = load_backend(default.settings_dict["ENGINE"]).DatabaseWrapper({**default.settings_dict}, "replica1")
    connections._connections.replica1 = connection
    with override_settings(SIJ_READ_REPLICAS=["replica1"]):
        yield "replica1"
    connection.close()
    delattr(connections._connections, "replica1")


def queries_by_alias(aliases):
    """Return ({alias: [sql, …]}, context) recording every query each alias runs."""
    seen = {alias: [] for alias in aliases}

    class Recorder:
        def __init__(self):
            self.wrappers = []

        def __enter__(self):
            for alias in aliases:

                def record(execute, sql, params, many, context, alias=alias):
                    seen[alias].append(sql)
                    return execute(sql, params, many, context)

                self.wrappers.append(connections[alias].execute_wrapper(record))
                self.wrappers[-1].__enter__()
            return seen

        def __exit__(self, *exc):
            for wrapper in reversed(self.wrappers):
                wrapper.__exit__(*exc)

    return Recorder()


@override_settings(SIJ_READ_REPLICAS=["replica1", "replica2"])
def test_router_sends_reads_to_a_replica_only_inside_replica_reads():
    router = ReplicaRouter()
    assert router.db_for_read(Specialist) == "default"
    with replica_reads():
        assert {router.db_for_read(Specialist) for _ in range(50)} == {"replica1", "replica2"}
        assert router.db_for_write(Specialist) == "default"
    assert router.db_for_read(Specialist) == "default"
    assert router.allow_migrate("default", "directory") and not router.allow_migrate("replica1", "directory")


def test_without_replicas_everything_reads_the_primary():
    with replica_reads():
        assert ReplicaRouter().db_for_read(Specialist) == "default"


@pytest.mark.django_db(transaction=True)
def test_patient_search_and_profile_read_from_the_replica(replica):
    specialist = SpecialistFactory(practices=[PracticeFactory(zip_code="60611", city="Chicago", state="IL")])
    client = Client()
    with queries_by_alias(["default", replica]) as seen:
        search = client.get("/search/?zip=60611")
        profile = client.get(f"/specialists/{specialist.pk}/")
        api = client.get("/api/v1/search?zip=60611")
    assert search.status_code == profile.status_code == api.status_code == 200
    assert specialist.full_name in search.content.decode() and specialist.full_name in profile.content.decode()
    assert api.json()["count"] == 1
    assert len(seen[replica]) >= 6 and any("referral_searchentry" in sql.lower() for sql in seen[replica])
    assert seen["default"] == []


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_physician_reads_the_primary(replica):
    SpecialistFactory(practices=[PracticeFactory(zip_code="60611", city="Chicago", state="IL")])
    client = Client()
    client.force_login(PhysicianFactory())
    with queries_by_alias(["default", replica]) as seen:
        assert client.get("/search/?zip=60611").status_code == 200
        assert client.get("/shortlists/").status_code == 200
    assert seen[replica] == [] and seen["default"]


def test_the_decorator_leaves_views_unchanged_without_replicas(rf):
    @reads_from_replica
    def view(request):
        return ReplicaRouter().db_for_read(Specialist)

    assert view(rf.get("/search/")) == "default"
