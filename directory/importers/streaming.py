"""Read very large public CSV files (.csv, .csv.gz or .zip) in batches of a few columns, with byte progress on stderr.

The national CMS and NPPES files hold millions of rows of which an import keeps about 2%. Arrow's CSV parser
(C++) reads them about four times as fast as csv.reader on one core; importers pick their rows with Arrow
compute functions, and only those rows become Python values. Rows keep csv.reader's numbering (the header is
row 1; every record counts, blank ones too) so that rejections name the row a curator can find in the file.
"""

import codecs
import contextlib
import csv
import gzip
import os
import re
import sys
import zipfile
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as compute
import pyarrow.csv as arrow_csv
from tqdm import tqdm

BLOCK_SIZE = 1 << 20  # bytes per batch (≈3,500 CMS rows); 4 MiB was no faster and held 130 MB more memory
MAX_HEADER = 1 << 20
MAX_REPORTED_REJECTIONS = 20
# A value longer than this, or spanning more lines, is a stray quote running on (no real cell comes near).
MAX_VALUE_CHARS = 10_000
MAX_VALUE_LINES = 20
MAX_SHORT_VALUE = 200  # a batch whose values are all this short cannot hold a runaway value: not looked into


class ImportFileError(Exception):
    """The file cannot be imported at all (unreadable, wrong layout, a bad row under --atomic)."""


def reject(result, row_number: int, reason: str, atomic: bool) -> None:
    """Count a rejected row in `result.rejections`; under --atomic, stop the import instead."""
    if atomic:
        raise ImportFileError(f"Row {row_number}: {reason}. Nothing was imported (--atomic).")
    result.rejections.add(row_number, reason)


def runaway_value(row_number: int) -> ImportFileError:
    return ImportFileError(
        f"Row {row_number} starts a quoted value that runs on over many lines or past {MAX_VALUE_CHARS:,} "
        "characters: a stray quote character? Nothing was imported; fix that row and import the file again."
    )


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
        shown = [f"  row {number}: {reason}" for number, reason in sorted(self.examples)]  # batches report late
        if self.count > len(self.examples):
            shown.append(f"  … and {self.count - len(self.examples):,} more")
        return shown


def find_columns(header: list[str], required: dict[str, tuple[str, ...]], recognise=None) -> dict[str, int]:
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
        if recognise and (known := recognise(header)):
            raise ImportFileError(known)
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


class ColumnStream:
    """The header of a CSV file and, batch by batch, the string values of the columns an importer asked for."""

    def __init__(
        self, binary, raw, required: dict[str, tuple[str, ...]], *, description: str, progress, recognise=None
    ):
        try:
            line = binary.readline(MAX_HEADER)
            if len(line) == MAX_HEADER and not line.endswith(b"\n"):
                raise ImportFileError("The first line is over 1 MiB long: is this a CSV file with line breaks?")
            header = next(csv.reader([line.decode("utf-8")]), None)
        except (csv.Error, UnicodeDecodeError, EOFError, OSError, zipfile.BadZipFile) as error:
            raise ImportFileError(f"The header row cannot be read: {error}") from None
        if not header:
            raise ImportFileError("The file is empty (no header row).")
        self.header = [name.strip() for name in header]
        self.width = len(self.header)
        self.columns = find_columns(self.header, required, recognise)
        self._binary = binary
        self._parsed = 0  # rows Arrow handed over (every row that had the header's number of fields)
        self._malformed = array("q")  # row numbers of the others, ascending, for _row_number()
        self._new_malformed: list[tuple[int, str]] = []
        self._runaway: int | None = None  # the row number where a runaway quoted value starts
        self._progress = ByteProgress(raw, description=description, progress=progress)

    def rows(self, keys, *, where=None, on_malformed) -> Iterator[tuple[int, tuple]]:
        """Yield (row number, values of `keys`) for each row where `where` holds, in file order.

        `where` takes a batch's {key: Arrow string array} and returns an Arrow boolean array (None: every row); the
        rows it leaves out never become Python values. Rows with another number of fields than the header are
        passed to on_malformed(row number, reason), batch by batch, before that batch's rows.
        """
        for first, columns in self._batches():
            for number, reason in self._take_malformed():
                on_malformed(number, reason)
            self._check_runaway(first, columns)
            if where is None:
                indices = None
                picked = range(len(columns[keys[0]]))
            else:
                indices = compute.indices_nonzero(where(columns))
                picked = indices.to_pylist()
            bad: dict[int, str] = {}  # position among the picked rows → why the row cannot be read
            values = [self._values(key, columns[key], indices, bad) for key in keys]
            for position, (index, row) in enumerate(zip(picked, zip(*values, strict=True), strict=True)):
                if position in bad:
                    on_malformed(self._row_number(first + index), bad[position])
                else:
                    yield self._row_number(first + index), row
        for number, reason in self._take_malformed():
            on_malformed(number, reason)

    @property
    def rows_read(self) -> int:
        """Rows read so far: every record after the header, readable or not."""
        return self._parsed + len(self._malformed)

    def _values(self, key: str, column: pa.Array, indices, bad: dict[int, str]) -> list[str]:
        """Return the column's values (of the picked rows) as str; a cell that is not UTF-8 or holds a NUL byte
        marks its row in `bad` (with the column's name) instead of stopping the file."""
        if indices is not None:
            column = compute.take(column, indices)
        try:
            values = column.to_pylist()
        except UnicodeDecodeError:  # rare: decode cell by cell to find the rows
            values = []
            for position, raw in enumerate(column.view(pa.binary()).to_pylist()):
                try:
                    values.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    bad.setdefault(position, f"{self.header[self.columns[key]]}: not UTF-8 text")
                    values.append("")
        if "\x00" in "".join(values):  # one C-level scan of the picked values; rows are looked at only if found
            for position, value in enumerate(values):
                if "\x00" in value:
                    bad.setdefault(position, f"{self.header[self.columns[key]]}: holds a NUL byte")
        return values

    def _check_runaway(self, first: int, columns: dict[str, pa.Array]) -> None:
        """Refuse the file when a value of the batch is a stray quote running on (see MAX_VALUE_CHARS)."""
        if self._runaway is not None:
            raise runaway_value(self._runaway)
        for column in columns.values():
            lengths = compute.binary_length(column)
            if (compute.max(lengths).as_py() or 0) <= MAX_SHORT_VALUE:  # the usual batch: one cheap pass
                continue
            too_long = compute.greater(lengths, MAX_VALUE_CHARS)
            too_many_lines = compute.greater(compute.count_substring(column, "\n"), MAX_VALUE_LINES)
            found = compute.indices_nonzero(compute.or_(too_long, too_many_lines))
            if len(found):
                raise runaway_value(self._row_number(first + found[0].as_py()))

    def _batches(self) -> Iterator[tuple[int, dict[str, pa.Array]]]:
        """Yield (index of the batch's first row among the parsed rows, {key: string array}) for each batch."""
        names = {key: str(position) for key, position in self.columns.items()}
        wanted = sorted(set(names.values()), key=int)
        try:
            reader = arrow_csv.open_csv(
                self._binary,
                read_options=arrow_csv.ReadOptions(
                    column_names=[str(position) for position in range(self.width)],
                    block_size=BLOCK_SIZE,
                    use_threads=False,  # one core: the database and the other import steps use the other
                ),
                parse_options=arrow_csv.ParseOptions(
                    newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=self._invalid_row
                ),
                # Every value stays text, exactly as in the file ("" stays "", never null).
                # UTF-8 is checked cell by cell in _values(), so that one bad cell rejects its row, not the file.
                convert_options=arrow_csv.ConvertOptions(
                    include_columns=wanted, column_types=dict.fromkeys(wanted, pa.string()), check_utf8=False
                ),
            )
            for batch in reader:
                first = self._parsed
                self._parsed += batch.num_rows
                self._progress.advance()
                yield first, {key: batch.column(name) for key, name in names.items()}
        except pa.ArrowInvalid as error:
            if self._runaway is not None or "straddl" in str(error):  # a value longer than a whole block
                raise runaway_value(self._runaway or self.rows_read + 2) from None
            if "UTF8" in str(error):
                raise ImportFileError(f"The file is not UTF-8 text near row {self.rows_read + 2}: {error}") from None
            raise ImportFileError(f"Row {self.rows_read + 2} or one soon after is not valid CSV: {error}") from None
        except (EOFError, zipfile.BadZipFile, OSError) as error:
            raise ImportFileError(f"The file is damaged or truncated near row {self.rows_read + 2}: {error}") from None

    def _invalid_row(self, row) -> str:
        number = row.number + 1  # Arrow counts the first data row as 1; the header is row 1 here
        if self._runaway is None and (len(row.text) > MAX_VALUE_CHARS or row.text.count("\n") > MAX_VALUE_LINES):
            self._runaway = number
        self._malformed.append(number)
        self._new_malformed.append((number, f"{row.actual_columns} fields, expected {row.expected_columns}"))
        return "skip"

    def _take_malformed(self) -> list[tuple[int, str]]:
        """Return (row number, reason) for the rows left out since the last call."""
        found, self._new_malformed = self._new_malformed, []
        return found

    def _row_number(self, index: int) -> int:
        """Return the file row number of the parsed row at `index` (counting the malformed rows before it)."""
        number, skipped = index + 2, 0
        while (before := bisect_right(self._malformed, number + skipped)) != skipped:
            skipped = before
        return number + skipped

    def close(self) -> None:
        self._progress.close()
        pa.default_memory_pool().release_unused()  # give the batches' memory back before the database writes


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
def open_columns(
    path,
    required: dict[str, tuple[str, ...]],
    *,
    description: str,
    progress: bool | None = None,
    zip_member=None,
    recognise=None,
):
    """Open a .csv, .csv.gz or .zip file and yield a ColumnStream over the `required` columns (UTF-8).

    In a ZIP archive the largest CSV member is read (matching `zip_member`, a regular expression, when given).
    `recognise(header)` may name a known wrong layout when columns are missing (a message, or None).
    """
    with open_binary(path, zip_member=zip_member) as (raw, binary):
        stream = ColumnStream(binary, raw, required, description=description, progress=progress, recognise=recognise)
        try:
            yield stream
        finally:
            stream.close()
