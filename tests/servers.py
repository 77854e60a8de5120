"""Real servers for operations tests: gunicorn with gunicorn.conf.py in a subprocess, a TCP proxy in front of
PostgreSQL that a test can hang and close (never the shared server itself), and a key space of its own in the
shared Redis."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings

GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict
    body: str


def get(url: str, timeout: float = 30) -> Answer:
    """GET without raising on 4xx/5xx; the timeout only guards against a hang."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
            return Answer(response.status, dict(response.headers), response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read().decode())


class Gunicorn:
    """`gunicorn -c gunicorn.conf.py` on 127.0.0.1 and a free port, without a control socket, for one test."""

    def __init__(self, tmp_path, database_url, workers=1, **env):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.access_log = tmp_path / "access.log"
        self.error_log = tmp_path / "error.log"
        self.output = tmp_path / "output.log"  # Django's own log (standard error)
        clean = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "SIJ_", "AXES_")) and key != "DATABASE_URL"
        }
        self.env = {
            **clean,
            "DATABASE_URL": database_url,
            # DEBUG on only so that static URLs need no collectstatic manifest; the 503 path is the same.
            "DJANGO_DEBUG": "1",
            **env,
        }
        self.workers = workers
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "-c",
                "gunicorn.conf.py",
                "--no-control-socket",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={self.workers}",
                f"--access-logfile={self.access_log}",
                f"--error-logfile={self.error_log}",
            ],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=self.output.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(self.base + "/healthz", timeout=5).status == 200:
                    return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("gunicorn did not start: " + self.logs()) from None
            time.sleep(0.2)

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def get(self, path, timeout=30) -> Answer:
        try:
            return get(self.base + path, timeout)
        except TimeoutError as error:
            raise TimeoutError(f"no answer to {path} within {timeout} s; server logs:\n{self.logs()}") from error

    def logs(self) -> str:
        return "".join(log.read_text() for log in (self.access_log, self.error_log, self.output) if log.exists())


class TcpProxy:
    """Forward 127.0.0.1:<port> to a target; `pause()` holds every byte (a hung server that keeps its sockets
    open), `resume()` lets them flow again, `close()` refuses connections and drops the open ones."""

    def __init__(self, target_port, port=None):
        self.target = ("127.0.0.1", target_port)
        self.port = port or free_port()
        self.flowing = threading.Event()
        self.flowing.set()
        self.sockets = []
        self.lock = threading.Lock()
        self.listener = None

    def open(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self.accept, args=(self.listener,), daemon=True).start()
        return self

    def accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            self.flowing.wait()
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    def pump(self, source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self.flowing.wait()
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def pause(self):
        self.flowing.clear()

    def resume(self):
        self.flowing.set()

    def close(self):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() that close() alone would leave waiting
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets = []
        self.flowing.set()


REDIS_URL = os.environ.get("SIJ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.contextmanager
def redis_keys(name: str):
    """A unique key prefix in the tests' Redis (several test runs may share it), with a connection to it; the
    prefix's keys are deleted afterwards. Unreachable Redis fails the test in CI, which has one, else skips it."""
    import redis

    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.exceptions.RedisError as error:
        message = f"Redis is not reachable at {REDIS_URL}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    prefix = f"{name}-{uuid.uuid4().hex}"
    try:
        yield SimpleNamespace(
            url=REDIS_URL,
            prefix=prefix,
            connection=connection,
            stored=lambda: list(connection.scan_iter(f"{prefix}:*")),
        )
    finally:
        if keys := list(connection.scan_iter(f"{prefix}:*")):
            connection.delete(*keys)
        connection.close()
