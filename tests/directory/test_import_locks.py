"""One import of a source at a time, tested with a second thread (its own database connection) holding the lock."""

import socket
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from bench.public_files import CMS_HEADER, NPPES_HEADER, cms_row, nppes_row, write_csv
from directory.importers.locks import import_lock
from directory.models import ImportLock, ProcedureVolume, Specialist
from tests.factories import SpecialistFactory, make_npi

pytestmark = pytest.mark.django_db(transaction=True)  # the lock must be visible to the other connection


class Holder(threading.Thread):
    """Hold the import lock of `source` in this thread (its own connection) until released."""

    def __init__(self, source):
        super().__init__(daemon=True)
        self.source = source
        self.holding = threading.Event()
        self.release = threading.Event()
        self.error = None

    def run(self):
        try:
            with import_lock(self.source):
                self.holding.set()
                self.release.wait(timeout=60)
        except Exception as error:  # reported by the test, never lost
            self.error = error
            self.holding.set()
        finally:
            connection.close()

    def __enter__(self):
        self.start()
        assert self.holding.wait(timeout=30)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.join(timeout=30)


def test_a_second_cms_import_while_one_runs_is_refused_at_once(tmp_path):
    SpecialistFactory(npi=make_npi(1))
    path = write_csv(tmp_path / "cms_D24.csv", CMS_HEADER, [cms_row(make_npi(1), "27279")])

    with Holder("CMS data"), pytest.raises(CommandError, match=r"An import of CMS data is already running \(since "):
        call_command("import_cms", str(path), stdout=StringIO())

    assert not ProcedureVolume.objects.exists()
    call_command("import_cms", str(path), stdout=StringIO())  # once the first import is done, the next one runs
    assert ProcedureVolume.objects.count() == 1
    assert not ImportLock.objects.exists()


def test_a_second_nppes_import_is_refused_but_a_cms_import_may_run_beside_it(tmp_path):
    nppes = write_csv(tmp_path / "npidata_pfile.csv", NPPES_HEADER, [nppes_row(make_npi(2))])
    cms = write_csv(tmp_path / "cms_D24.csv", CMS_HEADER, [cms_row(make_npi(3), "27279")])

    with Holder("NPPES data"):
        with pytest.raises(CommandError, match="An import of NPPES data is already running"):
            call_command("import_nppes", str(nppes), stdout=StringIO())
        call_command("import_cms", str(cms), stdout=StringIO())

    assert list(Specialist.objects.values_list("npi", flat=True)) == [make_npi(3)]


def test_a_lock_row_left_by_a_killed_process_is_taken_over():
    # SQLite: the row is the lock, and its process is gone. PostgreSQL: the advisory lock decides; the row is renewed.
    ImportLock.objects.create(
        source="CMS data", started_at="2026-01-01T00:00:00Z", host=socket.gethostname(), pid=2**22 + 12345
    )
    with import_lock("CMS data"):
        assert ImportLock.objects.get().pid != 2**22 + 12345
    assert not ImportLock.objects.exists()
