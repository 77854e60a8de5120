"""One import of a source at a time: a second CMS (or NPPES) import while one runs is refused at once.

PostgreSQL: a session advisory lock (pg_try_advisory_lock), which the server drops when the session ends, even
if the process is killed; the ImportLock row beside it only tells the second import since when the first runs.
SQLite has no advisory locks: the ImportLock row is the lock, and a row left by a process that is gone (killed)
is taken over.
"""

import contextlib
import os
import socket
import zlib

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from directory.importers.streaming import ImportFileError
from directory.models import ImportLock

ADVISORY_CLASS = 0x51A1  # the first key of pg_try_advisory_lock(int, int): "SIJ imports"


class ImportAlreadyRunning(ImportFileError):
    def __init__(self, source: str, since):
        when = f" (since {timezone.localtime(since):%Y-%m-%d %H:%M:%S %Z})" if since else ""
        super().__init__(f"An import of {source} is already running{when}; wait for it to finish, then try again.")


@contextlib.contextmanager
def import_lock(source: str):
    """Hold the lock of `source` ("CMS data") for the block; raise ImportAlreadyRunning if another import has it."""
    if connection.vendor == "postgresql":
        with advisory_lock(source):
            ImportLock.objects.update_or_create(source=source, defaults=holder())
            try:
                yield
            finally:
                ImportLock.objects.filter(source=source, **holder(started=False)).delete()
        return
    take_row_lock(source)
    try:
        yield
    finally:
        ImportLock.objects.filter(source=source, **holder(started=False)).delete()


@contextlib.contextmanager
def advisory_lock(source: str):
    key = zlib.crc32(source.encode()) - (1 << 31)  # an int4, as pg_try_advisory_lock(int, int) takes
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_CLASS, key])
        taken = cursor.fetchone()[0]
    if not taken:
        running = ImportLock.objects.filter(source=source).first()
        raise ImportAlreadyRunning(source, running.started_at if running else None)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_CLASS, key])


def take_row_lock(source: str) -> None:
    try:
        with transaction.atomic():
            running = ImportLock.objects.filter(source=source).first()
            if running is not None:
                if holder_alive(running):
                    raise ImportAlreadyRunning(source, running.started_at)
                running.delete()  # left by a process that was killed
            ImportLock.objects.create(source=source, **holder())
    except IntegrityError:  # another import created the row between our read and our write
        running = ImportLock.objects.filter(source=source).first()
        raise ImportAlreadyRunning(source, running.started_at if running else None) from None
    except OperationalError:  # SQLite: another import is writing ("database is locked")
        raise ImportAlreadyRunning(source, None) from None


def holder(*, started: bool = True) -> dict:
    this = {"host": socket.gethostname()[:255], "pid": os.getpid()}
    return {**this, "started_at": timezone.now()} if started else this


def holder_alive(lock: ImportLock) -> bool:
    """Return whether the process holding `lock` still runs (one on another host is assumed to)."""
    if lock.host != socket.gethostname()[:255]:
        return True
    try:
        os.kill(lock.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
