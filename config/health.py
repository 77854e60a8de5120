"""Health endpoints and the answer when the database is down or hung (docs/operations.md, "Database faults").

`/healthz`: the process is alive (no database). `/readyz`: the database answers. When the database fails
during a request — refused, unreachable past the connect timeout, a statement cancelled by the statement
timeout, or no answer within SIJ_DB_TIMEOUT seconds — the page or API answers 503 with Retry-After instead
of a 500, and Django reconnects on a later request by itself.
"""

import contextlib
import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

HEALTH_PATHS = ("/healthz", "/readyz")
# Checking a kept connection (Django's SELECT 1 when a request starts) takes milliseconds on a live server;
# cut it after this, so that a reconnect (connect_timeout) still fits in the 503's time budget.
CHECK_SECONDS = 2


class QueryWatchdog:
    """Cut a database call that has not answered within its time: one thread per process checks the calls in
    flight. A server that is slow but alive cancels the statement itself (statement_timeout); this covers one
    that does not answer at all (hung, or a network that drops packets), where the client would wait for ever.
    It shuts the connection's socket down (PostgreSQL) or interrupts SQLite, so the call raises at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.watched = {}  # token -> (deadline, database wrapper, seconds allowed)
        self.pid = None

    def start(self):
        if self.pid != os.getpid():  # after gunicorn's fork the thread must be started again
            self.pid = os.getpid()
            threading.Thread(target=self.loop, name="query-watchdog", daemon=True).start()

    @contextlib.contextmanager
    def watch(self, wrapper, seconds):
        self.start()
        wrapper = connections[wrapper.alias]  # this thread's DatabaseWrapper, not the thread-local proxy
        token = object()
        with self.lock:
            self.watched[token] = (time.monotonic() + seconds, wrapper, seconds)
        try:
            yield
        finally:
            with self.lock:
                self.watched.pop(token, None)

    def loop(self):
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            with self.lock:
                late = [token for token, (deadline, *_rest) in self.watched.items() if deadline <= now]
                for token in late:
                    _deadline, wrapper, seconds = self.watched.pop(token)
                    cut(wrapper, seconds)


def cut(wrapper, seconds):
    raw = wrapper.connection
    if raw is None:
        return
    logger.warning("Database call on %s got no answer within %s s: cutting its connection", wrapper.alias, seconds)
    with contextlib.suppress(Exception):  # the call may end (and its connection close) at this very moment
        if wrapper.vendor == "postgresql":
            # A duplicate of the socket's descriptor: shutdown() acts on the socket both share, so the waiting
            # read returns at once, and psycopg raises OperationalError ("server closed the connection").
            with socket.socket(fileno=os.dup(raw.pgconn.socket)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        elif wrapper.vendor == "sqlite":
            raw.interrupt()


watchdog = QueryWatchdog()


UNAVAILABLE_MESSAGE = "The directory is unavailable for a moment; please try again shortly."


def timeout() -> float:
    return settings.SIJ_DB_TIMEOUT


def database_unavailable(request) -> HttpResponse:
    headers = {"Retry-After": str(settings.SIJ_RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if request.path.startswith("/api/"):
        # The API's one error shape (config/api.py), whichever layer met the fault.
        body = {"errors": {"server": [UNAVAILABLE_MESSAGE]}}
        return JsonResponse(body, status=503, headers=headers)
    return HttpResponse(render_to_string("503.html"), status=503, headers=headers)


def is_database_fault(exception) -> bool:
    """Connection failures and cancelled statements, not programming errors such as a violated constraint."""
    return isinstance(exception, OperationalError | InterfaceError)


class DatabaseUnavailableMiddleware:
    """Put every database call of a request under the watchdog, and turn a database fault into a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path in HEALTH_PATHS:
            return self.get_response(request)
        seconds = timeout()
        if connection.connection is not None:
            # Check a kept connection now, under the watchdog: Django does it before the request's first query,
            # outside the execute wrappers. (A new connection is bounded by connect_timeout.)
            with watchdog.watch(connection, min(seconds, CHECK_SECONDS)):
                connection.close_if_health_check_failed()

        def wrapper(execute, sql, params, many, context):
            with watchdog.watch(context["connection"], seconds):
                return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_fault(exception):
            return self.unavailable(request, exception)
        return None

    @staticmethod
    def unavailable(request, error):
        reason = " ".join(str(error).split())[:200]
        logger.warning("Database unavailable, answered 503 for %s: %s", request.path, reason)
        return database_unavailable(request)


def healthz(request):
    """The process is alive and serves requests; it does not touch the database."""
    return HttpResponse("ok\n", content_type="text/plain", headers={"Cache-Control": "no-store"})


def readyz(request):
    """The database answers a query within SIJ_DB_TIMEOUT seconds; 503 otherwise."""
    try:
        with watchdog.watch(connection, timeout()), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        logger.warning("Not ready: database unavailable: %s", " ".join(str(error).split())[:200])
        return HttpResponse(
            "database unavailable\n",
            status=503,
            content_type="text/plain",
            headers={"Retry-After": str(settings.SIJ_RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        )
    return HttpResponse("ready\n", content_type="text/plain", headers={"Cache-Control": "no-store"})
