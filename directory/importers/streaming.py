"""Read very large public CSV files (.csv, .csv.gz or .zip) row by row, with byte progress on stderr."""

import codecs
import contextlib
import csv
import gzip
import io
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

PROGRESS_EVERY = 0x3FFF  # move the progress bar every 16,384 rows
READ_BUFFER = 1 << 20
DECODE_CHUNK = 1 << 16
MAX_REPORTED_REJECTIONS = 20


class ImportFileError(Exception):
    """The file cannot be imported at all (unreadable, wrong layout, a bad row under --atomic)."""


@dataclass
class Rejections:
    """Rows an importer skipped, with the reason; only the first few are kept to keep memory flat."""

    count: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, row_number: int, reason: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_REPORTED_REJECTIONS:
            self.examples.append((row_number, reason))

    def lines(self) -> list[str]:
        shown = [f"  row {number}: {reason}" for number, reason in self.examples]
        if self.count > len(self.examples):
            shown.append(f"  … and {self.count - len(self.examples):,} more")
        return shown


def find_columns(header: list[str], required: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Map each key to the index of the first of its accepted header names (case-insensitive).

    Raise ImportFileError naming every missing column, so that a wrong file fails before any work.
    """
    index = {}
    for position, name in enumerate(header):
        index.setdefault(name.lower(), position)
    found, missing = {}, []
    for key, names in required.items():
        position = next((index[name.lower()] for name in names if name.lower() in index), None)
        if position is None:
            missing.append(" or ".join(names))
        else:
            found[key] = position
    if missing:
        raise ImportFileError("Missing column(s): " + "; ".join(missing) + ". Is this the right file?")
    return found


class ByteProgress:
    """A progress bar over the bytes of the file on disk (compressed or not), on stderr."""

    def __init__(self, raw, *, description: str, progress: bool | None):
        self._raw = raw
        # disable=None: tqdm stays silent when stderr is not a terminal (cron, CI, pipes).
        self._bar = tqdm(
            total=os.fstat(raw.fileno()).st_size,
            unit="B",
            unit_scale=True,
            desc=description,
            file=sys.stderr,
            disable=None if progress is None else not progress,
            mininterval=0.5,
        )
        self._position = 0

    def advance(self) -> None:
        position = self._raw.tell()
        self._bar.update(position - self._position)
        self._position = position

    def close(self) -> None:
        self._bar.close()


class CsvStream:
    """The header of a CSV file and its data rows, advancing a byte progress bar."""

    def __init__(self, text, raw, *, description: str, progress: bool | None):
        self._reader = csv.reader(text)
        try:
            self.header = [name.strip() for name in next(self._reader)]
        except StopIteration:
            raise ImportFileError("The file is empty (no header row).") from None
        except (csv.Error, UnicodeDecodeError, EOFError, OSError) as error:
            raise ImportFileError(f"The header row cannot be read: {error}") from None
        self.width = len(self.header)
        self.rows_read = 0
        self._progress = ByteProgress(raw, description=description, progress=progress)

    def columns(self, required: dict[str, tuple[str, ...]]) -> dict[str, int]:
        return find_columns(self.header, required)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield (row number, row) for every data row; the header is row 1.

        Rows are handed over one at a time (not in lists) because that is what keeps csv.reader fast.
        """
        number = 1
        try:
            for number, row in enumerate(self._reader, start=2):  # noqa: B007 - `number` is read after the loop
                yield number, row
                if not number & PROGRESS_EVERY:
                    self._advance(number - 1)
        except csv.Error as error:
            raise ImportFileError(f"Row {number + 1} is not valid CSV: {error}") from None
        except UnicodeDecodeError as error:
            raise ImportFileError(f"The file is not UTF-8 text near row {number + 1}: {error}") from None
        except (EOFError, zipfile.BadZipFile, OSError) as error:
            raise ImportFileError(f"The file is damaged or truncated near row {number + 1}: {error}") from None
        self._advance(number - 1)

    def _advance(self, rows_read: int) -> None:
        self.rows_read = rows_read
        self._progress.advance()

    def close(self):
        self._progress.close()


def pick_zip_member(archive: zipfile.ZipFile, prefer: str | None) -> zipfile.ZipInfo:
    """Return the data CSV inside a ZIP: the largest .csv (matching `prefer`, if any), never a header-only file."""
    members = [
        info
        for info in archive.infolist()
        if info.filename.lower().endswith(".csv") and "fileheader" not in info.filename.lower()
    ]
    if prefer:
        members = [info for info in members if re.search(prefer, Path(info.filename).name, re.IGNORECASE)] or []
    if not members:
        wanted = f" whose name contains {prefer!r}" if prefer else ""
        raise ImportFileError(f"The ZIP archive holds no CSV file{wanted}.")
    return max(members, key=lambda info: info.file_size)


@contextlib.contextmanager
def open_binary(path, *, zip_member: str | None = None):
    """Open a .csv, .csv.gz or .zip file; yield (the file on disk, its CSV bytes after any UTF-8 BOM)."""
    path = Path(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the ExitStack below
    except OSError as error:
        raise ImportFileError(f"Cannot open {path}: {error.strerror}") from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(raw)
        name = path.name.lower()
        try:
            if name.endswith(".zip"):
                archive = stack.enter_context(zipfile.ZipFile(raw))
                binary = stack.enter_context(archive.open(pick_zip_member(archive, zip_member)))
            elif name.endswith(".gz"):
                binary = stack.enter_context(gzip.GzipFile(fileobj=raw))
            else:
                binary = raw
        except zipfile.BadZipFile as error:
            raise ImportFileError(f"{path.name} is not a valid ZIP archive: {error}") from None
        try:  # a BOM is skipped here, as bytes: the utf-8-sig codec decodes every chunk more slowly than utf-8
            if binary.peek(3)[:3] == codecs.BOM_UTF8:
                binary.read(3)
        except (EOFError, OSError, zipfile.BadZipFile) as error:
            raise ImportFileError(f"The file is damaged or truncated at its start: {error}") from None
        yield raw, binary


@contextlib.contextmanager
def open_csv(path, *, description: str, progress: bool | None = None, zip_member: str | None = None):
    """Open a .csv, .csv.gz or .zip file and yield a CsvStream over its rows (UTF-8; a BOM is dropped)."""
    with open_binary(path, zip_member=zip_member) as (raw, binary):
        buffered = io.BufferedReader(binary, READ_BUFFER)
        with io.TextIOWrapper(buffered, encoding="utf-8", newline="") as text:
            # Decoding 64 KiB at a time instead of the default 8 KiB reads a multi-GB file with ≈10% less CPU.
            text._CHUNK_SIZE = DECODE_CHUNK
            stream = CsvStream(text, raw, description=description, progress=progress)
            try:
                yield stream
            finally:
                stream.close()
