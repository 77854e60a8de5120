"""Read a few columns of a very large CSV file in batches, with Arrow's CSV parser (C++), for importers that keep
a small share of the rows: they pick their rows with Arrow compute functions and only those become Python values.

Parsing every row with csv.reader cost more than everything else a CMS import does; Arrow parses the same
file about four times as fast on one core. Rows keep csv.reader's numbering (the header is row 1; every record
counts, blank ones too) so that rejections name the row a curator can find in the file.
"""

import contextlib
import csv
import zipfile
from array import array
from bisect import bisect_right
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as arrow_csv

from directory.importers.streaming import ByteProgress, ImportFileError, find_columns, open_binary

BLOCK_SIZE = 1 << 20  # bytes parsed per batch (≈3,500 CMS rows); Arrow holds a few dozen blocks in memory


class ColumnStream:
    """The header of a CSV file and, batch by batch, the string values of the columns an importer asked for."""

    def __init__(self, binary, raw, required: dict[str, tuple[str, ...]], *, description: str, progress):
        try:
            line = binary.readline()
            header = next(csv.reader([line.decode("utf-8")]), None)
        except (csv.Error, UnicodeDecodeError, EOFError, OSError, zipfile.BadZipFile) as error:
            raise ImportFileError(f"The header row cannot be read: {error}") from None
        if not header:
            raise ImportFileError("The file is empty (no header row).")
        self.header = [name.strip() for name in header]
        self.width = len(self.header)
        self.columns = find_columns(self.header, required)
        self.rows_read = 0
        self._binary = binary
        self._parsed = 0  # rows Arrow handed over (every row that had the header's number of fields)
        self._malformed = array("q")  # row numbers of the others, ascending, for row_number()
        self._new_malformed: list[tuple[int, str]] = []
        self._progress = ByteProgress(raw, description=description, progress=progress)

    def batches(self) -> Iterator[tuple[int, dict[str, pa.Array]]]:
        """Yield (index of the batch's first row among the parsed rows, {key: string array}) for each batch.

        Rows with another number of fields than the header are left out; malformed() lists them after each batch.
        """
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
                convert_options=arrow_csv.ConvertOptions(
                    include_columns=wanted, column_types=dict.fromkeys(wanted, pa.string())
                ),
            )
            for batch in reader:
                first = self._parsed
                self._parsed += batch.num_rows
                self.rows_read = self._parsed + len(self._malformed)
                self._progress.advance()
                yield first, {key: batch.column(name) for key, name in names.items()}
        except pa.ArrowInvalid as error:
            if "UTF8" in str(error):
                raise ImportFileError(f"The file is not UTF-8 text near row {self.rows_read + 2}: {error}") from None
            raise ImportFileError(f"Row {self.rows_read + 2} or one soon after is not valid CSV: {error}") from None
        except (EOFError, zipfile.BadZipFile, OSError) as error:
            raise ImportFileError(f"The file is damaged or truncated near row {self.rows_read + 2}: {error}") from None

    def _invalid_row(self, row) -> str:
        number = row.number + 1  # Arrow counts the first data row as 1; the header is row 1 here
        self._malformed.append(number)
        self._new_malformed.append((number, f"{row.actual_columns} fields, expected {row.expected_columns}"))
        return "skip"

    def malformed(self) -> list[tuple[int, str]]:
        """Return (row number, reason) for the rows left out since the last call."""
        found, self._new_malformed = self._new_malformed, []
        return found

    def row_number(self, index: int) -> int:
        """Return the file row number of the parsed row at `index` (counting the malformed rows before it)."""
        number, skipped = index + 2, 0
        while (before := bisect_right(self._malformed, number + skipped)) != skipped:
            skipped = before
        return number + skipped

    def close(self) -> None:
        self._progress.close()
        pa.default_memory_pool().release_unused()  # give the batches' memory back before the database writes


@contextlib.contextmanager
def open_columns(path, required: dict[str, tuple[str, ...]], *, description: str, progress: bool | None = None):
    """Open a .csv, .csv.gz or .zip file and yield a ColumnStream over the `required` columns (UTF-8)."""
    with open_binary(path) as (raw, binary):
        stream = ColumnStream(binary, raw, required, description=description, progress=progress)
        try:
            yield stream
        finally:
            stream.close()
