import csv
import gzip
import io
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

from bench.public_files import write_csv
from directory.importers import streaming
from directory.importers.streaming import ImportFileError, open_columns

WANTED = {"code": ("Code",), "name": ("Name",)}


def read(path, required=WANTED, **options) -> tuple[list[tuple[int, str, str]], list[tuple[int, str]], int]:
    """Return ([(file row number, code, name)], [(row number, reason) left out], rows read)."""
    malformed = []
    with open_columns(path, required, description="test", **options) as stream:
        rows = [
            (number, code, name)
            for number, (code, name) in stream.rows(
                ("code", "name"), on_malformed=lambda number, reason: malformed.append((number, reason))
            )
        ]
    return rows, malformed, stream.rows_read


def test_reads_the_asked_columns_as_text_with_csv_row_numbers(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text('Other,CODE,name\nx,27279,"Smith, Jane"\n\ny,0012,""\n"multi\nline",NA,Lee\n', encoding="utf-8")

    rows, malformed, rows_read = read(path)

    # Every value stays text ("0012", "", "NA"), a blank line is a row, a quoted line break stays in its value.
    assert rows == [(2, "27279", "Smith, Jane"), (3, "", ""), (4, "0012", ""), (5, "NA", "Lee")]
    assert (malformed, rows_read) == ([], 4)


def test_reads_windows_line_endings(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"Code,Name\r\n27279,Jane\r\n27096,Lee\r\n")

    assert read(path) == ([(2, "27279", "Jane"), (3, "27096", "Lee")], [], 2)


def test_rows_with_another_number_of_fields_are_left_out_and_numbered(tmp_path):
    lines = ["Code,Name,Extra", "a,1,x", "b,2", "c,3,x", "d,4,x,y", "e,5,x"]
    path = tmp_path / "f.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    rows, malformed, rows_read = read(path)

    assert rows == [(2, "a", "1"), (4, "c", "3"), (6, "e", "5")]
    assert malformed == [(3, "2 fields, expected 3"), (5, "4 fields, expected 3")]
    assert rows_read == 5


def test_row_numbers_stay_right_across_many_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "BLOCK_SIZE", 1 << 12)  # a few dozen rows per batch
    rows = [[f"c{n}", str(n)] if n % 97 else [f"c{n}"] for n in range(5000)]
    path = write_csv(tmp_path / "f.csv", ["Code", "Name"], rows)

    read_rows, malformed, rows_read = read(path)

    assert [number for number, *_ in read_rows] == [n + 2 for n in range(5000) if n % 97]
    assert all(code == f"c{number - 2}" for number, code, _ in read_rows)
    assert [number for number, _ in malformed] == [n + 2 for n in range(0, 5000, 97)]
    assert rows_read == 5000


def test_where_picks_rows_in_arrow_and_keeps_their_file_row_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "BLOCK_SIZE", 1 << 12)
    rows = [["27279" if n % 10 == 0 else "99213", str(n)] if n % 97 else ["short"] for n in range(3000)]
    path = write_csv(tmp_path / "f.csv", ["Code", "Name"], rows)

    with open_columns(path, WANTED, description="test") as stream:
        picked = list(
            stream.rows(
                ("name",),
                where=lambda columns: pc.equal(columns["code"], "27279"),
                on_malformed=lambda number, reason: None,
            )
        )

    assert picked == [(n + 2, (str(n),)) for n in range(0, 3000, 10) if n % 97]


@pytest.mark.parametrize("name", ["f.csv.gz", "f.zip"])
def test_reads_gzip_and_zip(tmp_path, name):
    rows = [["Jane", "27279"], ["José", "27096"]] * 10  # the archive's largest CSV member is the data
    path = write_csv(tmp_path / name, ["Name", "Code"], rows)

    assert read(path)[0][:2] == [(2, "27279", "Jane"), (3, "27096", "José")]
    assert read(path)[2] == 20


def test_a_bom_before_the_header_is_skipped(tmp_path):
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress("\ufeffCode,Name\n27279,Jane\n".encode()))

    assert read(path)[0] == [(2, "27279", "Jane")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"Cod\xe9,Name\n", "The header row cannot be read"),
        (b"Other,Name\n1,2\n", r"Missing column\(s\): Code"),
        (b"Code,Name" + b",x" * (1 << 20), "over 1 MiB long"),  # not a CSV file: no line break to stop at
    ],
)
def test_unreadable_files_raise_import_file_error(tmp_path, content, message):
    path = tmp_path / "f.csv"
    path.write_bytes(content)

    with pytest.raises(ImportFileError, match=message):
        read(path)


def test_a_truncated_gzip_file_is_reported_as_damaged(tmp_path):
    path = write_csv(tmp_path / "f.csv.gz", ["Code", "Name"], [[str(n), "x" * 40] for n in range(20000)])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(ImportFileError, match="damaged or truncated near row"):
        read(path)


def test_reading_in_a_non_interactive_process_prints_nothing(tmp_path):
    text = io.StringIO()
    csv.writer(text).writerows([["Code", "Name"], ["27279", "Jane"], ["27096", "Lee"]])
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(text.getvalue().encode()))
    script = (
        "import sys; from directory.importers.streaming import open_columns\n"
        "with open_columns(sys.argv[1], {'code': ('Code',)}, description='CMS') as stream:\n"
        "    print(sum(1 for _ in stream.rows(('code',), on_malformed=print)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    assert (done.stdout, done.stderr) == ("2\n", "")


def test_a_cell_that_is_not_utf8_or_holds_a_nul_rejects_its_row_only(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"Code,Name\n27279,Jos\xe9\n27096,Lee\n27280,Nu\x00l\n22612,Kim\n")

    rows, malformed, rows_read = read(path)

    assert rows == [(3, "27096", "Lee"), (5, "22612", "Kim")]
    assert malformed == [(2, "Name: not UTF-8 text"), (4, "Name: holds a NUL byte")]
    assert rows_read == 4


@pytest.mark.parametrize(
    "content",
    [
        b'Code,Name\n27279,Jane\n27096,"Lee\n' + b"27280,Kim\n" * 100,  # runs on to the end of the file
        b'Code,Name\n27279,Jane\n27096,"Lee' + b"x" * 20_000 + b'"\n27280,Kim\n',  # one enormous value
        b'Code,Name\n27279,Jane\n"27096,Lee\n' + b"27280,Kim\n" * 50 + b'"x,y,z\n',  # wrong fields, many lines
    ],
)
def test_a_runaway_quoted_value_refuses_the_file_naming_the_row_where_it_starts(tmp_path, content):
    path = tmp_path / "f.csv"
    path.write_bytes(content)

    with pytest.raises(ImportFileError, match="Row 3 starts a quoted value that runs on"):
        read(path)


def test_a_runaway_value_longer_than_a_block_refuses_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "BLOCK_SIZE", 4096)
    path = tmp_path / "f.csv"
    path.write_bytes(b"Code,Name\n" + b"27279,Jane\n" * 1000 + b'27096,"Lee\n' + b"27280,Kim\n" * 2000)

    with pytest.raises(ImportFileError, match="starts a quoted value that runs on"):
        read(path)


def test_rows_read_counts_a_file_of_malformed_rows(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"Code,Name\n1,2,3\n")
    assert read(path) == ([], [(2, "3 fields, expected 2")], 1)
