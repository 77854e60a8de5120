"""Database down, hung or slow: 503 with Retry-After (JSON on /api/), no traceback, health endpoints, recovery
without a restart. Real gunicorn processes; the faults come from a closed port, an unopenable SQLite file, a TCP
proxy in front of PostgreSQL that the test hangs and closes, and a table lock held by the test."""

import json
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from config.health import UNAVAILABLE_MESSAGE
from tests.factories import ensure_zipcodes
from tests.servers import Gunicorn, TcpProxy, free_port

SEARCH = "/search/?zip=60611&prior_lumbar_fusion=yes"
API_SEARCH = "/api/v1/search?zip=60611"


def closed_port_url():
    return f"postgres://postgres@127.0.0.1:{free_port()}/sij_nowhere"  # nothing listens on a just-freed port


def postgres_url(port=None):
    db = connection.settings_dict  # with the db fixture: the test database
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@127.0.0.1:{port or db.get('PORT') or 5432}/{db['NAME']}"


def assert_unavailable(server):
    page = server.get(SEARCH)
    assert page.status == 503
    assert page.headers["Retry-After"] == str(settings.SIJ_RETRY_AFTER_SECONDS)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "temporarily unavailable" in page.body
    assert "Traceback" not in page.body
    api = server.get(API_SEARCH)
    assert api.status == 503
    assert api.headers["Retry-After"] == str(settings.SIJ_RETRY_AFTER_SECONDS)
    assert api.headers["Content-Type"] == "application/json"
    assert json.loads(api.body) == {"errors": {"server": [UNAVAILABLE_MESSAGE]}}


@pytest.mark.parametrize(
    "database_url",
    [pytest.param(closed_port_url(), id="postgresql-closed-port"), pytest.param(None, id="sqlite-unopenable")],
)
def test_database_down_answers_503_and_health_endpoints_tell(tmp_path, database_url):
    url = database_url or f"sqlite:///{tmp_path}/missing-folder/db.sqlite3"
    with Gunicorn(tmp_path, url) as server:
        assert server.get("/healthz").status == 200
        ready = server.get("/readyz")
        assert ready.status == 503
        assert "Retry-After" in ready.headers
        assert_unavailable(server)
        logs = server.logs()
    assert "Traceback" not in logs
    assert "Database unavailable, answered 503 for /search/" in logs


def test_health_endpoints_in_process(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        alive = client.get("/healthz")
    assert alive.status_code == 200
    assert alive.content == b"ok\n"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.content == b"ready\n"


@pytest.fixture(scope="module")
def scratch_postgres():
    """On the SQLite run: a migrated database of this module's own on the PostgreSQL server, dropped after."""
    name = f"sij_faults_{os.getpid()}_{int(time.time())}"
    server = "postgres://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    try:
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "1"}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=settings.BASE_DIR, env=env, check=True, timeout=300
        )
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(request):
    """A migrated PostgreSQL database a server process can use: the test database on the PostgreSQL run, a
    scratch one on the SQLite run (the faults are PostgreSQL's: a TCP proxy, a table lock).

    On the PostgreSQL run the server sees only committed rows, and an earlier transactional test may have flushed
    the ZIP table: without 60611 a search stops at "No such US ZIP" and never reads the table the test locks.
    Hence the tests that use this mark themselves transactional (a fixture asking for `transactional_db` is too
    late: pytest-django has by then wrapped the test in a transaction)."""
    if connection.vendor == "postgresql":
        assert not connection.in_atomic_block, "mark the test with ON_POSTGRES_TEST_DATABASE"
        ensure_zipcodes()
        return postgres_url()
    return request.getfixturevalue("scratch_postgres")


ON_POSTGRES_TEST_DATABASE = pytest.mark.django_db(transaction=True)  # see pg_url


def with_port(url, port):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


@ON_POSTGRES_TEST_DATABASE
def test_hung_then_closed_database_answers_503_and_recovers_without_restart(tmp_path, pg_url):
    proxy = TcpProxy(urlsplit(pg_url).port or 5432).open()
    try:
        with Gunicorn(tmp_path, with_port(pg_url, proxy.port)) as server:
            assert server.get("/readyz").status == 200, server.logs()
            assert server.get(SEARCH).status == 200  # the worker now keeps a connection through the proxy

            proxy.pause()  # the server stops answering; sockets stay open
            assert_unavailable(server)
            assert server.get("/healthz").status == 200
            proxy.resume()
            assert server.get(SEARCH).status == 200  # reconnected by itself
            assert server.get("/readyz").status == 200

            proxy.close()  # the server is gone: connections dropped and refused
            assert_unavailable(server)
            assert server.get("/readyz").status == 503
            proxy = TcpProxy(proxy.target[1], port=proxy.port).open()  # back on the same address
            assert server.get(SEARCH).status == 200
            assert server.get(API_SEARCH).status == 200  # answered from the database again
            logs = server.logs()
    finally:
        proxy.close()
    assert "Traceback" not in logs
    assert "cutting its connection" in logs  # the hung call was cut by the watchdog, not left to gunicorn


@ON_POSTGRES_TEST_DATABASE
def test_slow_statement_is_cancelled_by_statement_timeout(tmp_path, pg_url):
    with Gunicorn(tmp_path, pg_url, SIJ_DB_TIMEOUT="2") as server:
        first = server.get(SEARCH)
        assert first.status == 200
        assert "No such US ZIP" not in first.body  # the search went on to read the index
        # A transaction that holds the search index, which every search reads (ZIPs come from a per-process cache).
        with psycopg.connect(pg_url) as locker:
            locker.execute("LOCK TABLE referral_searchentry IN ACCESS EXCLUSIVE MODE")
            assert_unavailable(server)
            locker.rollback()
        assert server.get(SEARCH).status == 200
        logs = server.logs()
    assert "canceling statement due to statement timeout" in logs
    assert "Traceback" not in logs


PRINT_TIMEOUT = (
    "from django.db import connection\n"
    "if connection.vendor == 'postgresql':\n"
    "    with connection.cursor() as cursor:\n"
    "        cursor.execute('SHOW statement_timeout'); print(cursor.fetchone()[0])\n"
    "else:\n"
    "    print(connection.settings_dict['OPTIONS']['timeout'])\n"
)


@ON_POSTGRES_TEST_DATABASE
@pytest.mark.parametrize(
    ("entry", "web_answer", "command_answer"),
    [("postgresql", "5s", "0"), ("sqlite", "5.0", "30")],
)
def test_statement_timeout_only_in_web_processes(request, tmp_path, entry, web_answer, command_answer):
    url = request.getfixturevalue("pg_url") if entry == "postgresql" else f"sqlite:///{tmp_path}/db.sqlite3"
    env = {"DATABASE_URL": url, "DJANGO_DEBUG": "1", "PATH": "/usr/bin:/bin"}
    web = subprocess.run(
        [sys.executable, "-c", "import config.wsgi\n" + PRINT_TIMEOUT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    command = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRINT_TIMEOUT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert web.stdout.split()[-1:] == [web_answer], web.stderr
    assert command.stdout.split()[-1:] == [command_answer], command.stderr
