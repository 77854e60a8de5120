"""No log line pairs a ZIP or a patient's situation with a client address: gunicorn's access log (with
gunicorn.conf.py) and runserver's request log keep the path and drop the query string."""

import logging

import pytest
from django.db import connection

from tests.servers import Gunicorn, free_port

SEARCHES = [
    "/search/?zip=77030&prior_lumbar_fusion=yes&conservative_months=7",
    "/api/v1/search?zip=77030&diagnostic_injection=relieved",
]


def test_gunicorn_access_log_drops_query_strings(tmp_path, db):
    if connection.vendor == "postgresql":
        settings_dict = connection.settings_dict  # the test database, which the server reads as it is
        url = f"postgres://{settings_dict['USER'] or 'postgres'}@127.0.0.1:{settings_dict['PORT'] or 5432}/"
        url += settings_dict["NAME"]
        statuses = {200}
    else:  # the SQLite test database lives in this process; the server answers 503 (no database), logged alike
        url = f"postgres://postgres@127.0.0.1:{free_port()}/none"
        statuses = {503}
    with Gunicorn(tmp_path, url) as server:
        for path in SEARCHES:
            assert server.get(path).status in statuses
    lines = server.access_log.read_text().splitlines()
    searched = [line for line in lines if '"GET /search/ HTTP/1.1"' in line or '"GET /api/v1/search HTTP/1.1"' in line]
    assert len(searched) == 2, lines
    assert all(line.startswith("127.0.0.1 ") for line in searched)  # the client address is there …
    log = server.access_log.read_text()
    for secret in ("77030", "zip=", "prior_lumbar_fusion", "conservative_months", "diagnostic_injection", "?"):
        assert secret not in log  # … and nothing of the search


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def server_log():
    """runserver's logger as config/settings.py configures it (its filter included), collecting messages."""
    logger = logging.getLogger("django.server")
    handler = Collect()
    logger.addHandler(handler)
    yield logger, handler.messages
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("level", "request_line", "status", "expected"),
    [
        (
            logging.INFO,
            "GET /search/?zip=60611&prior_lumbar_fusion=yes HTTP/1.1",
            "200",
            '"GET /search/ HTTP/1.1" 200 5',
        ),
        (logging.WARNING, "GET /search/?zip=6061 HTTP/1.1", "400", '"GET /search/ HTTP/1.1" 400 5'),
        (
            logging.WARNING,
            "GET /api/v1/search?zip=10001&radius=x HTTP/1.1",
            "400",
            '"GET /api/v1/search HTTP/1.1" 400 5',
        ),
        (logging.INFO, "GET /static/css/site.css HTTP/1.1", "200", '"GET /static/css/site.css HTTP/1.1" 200 5'),
    ],
)
def test_runserver_request_log_drops_query_strings(server_log, level, request_line, status, expected):
    logger, messages = server_log
    # As django.core.servers.basehttp.WSGIRequestHandler.log_message logs a request.
    logger.log(level, '"%s" %s %s', request_line, status, "5", extra={"status_code": int(status)})
    assert messages == [expected]
