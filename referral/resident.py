"""Each process's copy of the search index in memory, as Arrow columns: the circle's counting reads it.

Why: at 100,000 published specialists a 100-mile circle holds up to ~9,000 index rows, and counting and
cutting them in SQL costs SQLite's VM and PostgreSQL's executor ~2.5 µs a row (BENCHMARKS.md, "Search at stress
scale: the database counts the circle"); Arrow's compute kernels (pyarrow, already installed for the importers)
do the same additions and multiplications on whole columns at a few nanoseconds a row. What the page shows is
still read from the database (matching.build_matches).

The copy holds while the index's stamp (referral.SearchIndexStamp) is the one it was read with: triggers change
the stamp in every transaction that writes the index, so a search reads one row by primary key to know, and
reads the index again after any write. It is read in the search's own transaction, so a search inside a
transaction that wrote the index sees those writes, as a query would.
"""

import bisect
import threading
from typing import NamedTuple

import pyarrow as pa
from django.conf import settings
from django.db import connections

from referral.fastpath import fetch_all, fetch_chunks
from referral.models import SearchEntry, SearchIndexStamp
from referral.ranking import STATIC_CRITERIA

COLUMNS = ["id", "specialist", "practice", "latitude", "longitude", "last_name_key", "first_name_key"]
COLUMNS += ["x", "y", "z", "valid_until", "past_year_mis_fusions", *STATIC_CRITERIA]
TYPES = {"id": pa.int64(), "specialist": pa.int64(), "practice": pa.int64(), "valid_until": pa.date32()}
TYPES |= {"last_name_key": pa.string(), "first_name_key": pa.string(), "past_year_mis_fusions": pa.int64()}


class Copy(NamedTuple):
    """The index as of one stamp: its rows ordered by latitude (a circle's rows lie in one slice of them)."""

    token: str
    table: pa.Table
    latitudes: list[float]  # the table's latitude column, for bisect

    def within_latitudes(self, south: float, north: float) -> pa.Table:
        """The rows from `south` to `north` degrees of latitude (a zero-copy slice)."""
        start = bisect.bisect_left(self.latitudes, south)
        return self.table.slice(start, bisect.bisect_right(self.latitudes, north) - start)


CHUNK = 10_000
_copies: dict[str, Copy] = {}
_loading = threading.Lock()


def enabled() -> bool:
    return settings.SIJ_SEARCH_IN_MEMORY


def current(database: str) -> Copy | None:
    """Return this database's index as it stands now, reading it again if it was written since; None when the
    stamp is missing (a database flushed since its migration: until the index is next written)."""
    table, stamp = (connections[database].ops.quote_name(name) for name in (SearchIndexStamp._meta.db_table, "token"))
    rows = fetch_all(database, f"SELECT {stamp} FROM {table} WHERE id = 1", [])
    if not rows:
        return None
    token = rows[0][0]
    copy = _copies.get(database)
    if copy is None or copy.token != token:
        with _loading:  # one thread reads it; others wait for its copy rather than each reading their own
            copy = _copies.get(database)
            if copy is None or copy.token != token:
                # Read after the stamp: a write committed in between leaves a newer stamp, and the next search
                # reads the index again; the copy is never older than its token says.
                copy = _copies[database] = load(database, token)
    return copy


def load(database: str, token: str) -> Copy:
    """Read the index into Arrow columns, CHUNK rows at a time (130,000 rows at once as Python tuples would take
    ~200 MB for a moment), ordered by latitude."""
    connection = connections[database]
    quote = connection.ops.quote_name
    names = {field.name: quote(field.column) for field in SearchEntry._meta.concrete_fields}
    if connection.vendor == "sqlite":  # as text: Django's converter would parse each date in Python
        names["valid_until"] = f"CAST({names['valid_until']} AS TEXT)"
    sql = f"SELECT {', '.join(names[name] for name in COLUMNS)} FROM {quote(SearchEntry._meta.db_table)}"
    schema = pa.schema([(name, TYPES.get(name, pa.float64())) for name in COLUMNS])
    batches = [
        pa.record_batch(
            [column(values, kind) for values, kind in zip(zip(*rows, strict=True), schema.types, strict=True)],
            schema=schema,
        )
        for rows in fetch_chunks(database, sql, [], CHUNK)
    ]
    table = pa.Table.from_batches(batches, schema=schema).sort_by("latitude").combine_chunks()
    # A process's first group_by starts Arrow's query engine (Acero): ~26 ms, paid here with the load rather than
    # by the first search that counts a circle (matching.cut_to_the_page).
    table.slice(0, 1).group_by("specialist", use_threads=False).aggregate([("x", "max")])
    return Copy(token, table, table.column("latitude").to_pylist())


def column(values: tuple, kind: pa.DataType) -> pa.Array:
    if kind == pa.date32() and isinstance(values[0], str):  # SQLite's ISO text
        return pa.array(values, pa.string()).cast(kind)
    return pa.array(values, kind)
