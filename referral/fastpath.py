"""The search's use of private Django and psycopg APIs, kept in one place: the search budgets need them.

A search must answer within 10 ms with 20,000 published and a million unpublished records (BENCHMARKS.md,
"Search"). Two steps cost more than that budget allows when done through the public APIs:

- `fetch_all()`: the scan returns thousands of rows of floats. Django's psycopg cursors bind parameters on
  the client, which only allows text results: the server prints every float and Python parses it back, a
  third of a large scan's time. Here the query runs on a psycopg cursor with server-side binding and binary
  results, wrapped the way Django wraps its own cursors (`make_cursor` / `make_debug_cursor`), so that query
  logging, `execute_wrappers` and error translation still apply.
- `set_prefetched()`: a search's page loads its practices' insurance in one plain query and puts the rows in
  each practice's prefetch cache as a `Loaded` QuerySet (setting `_result_cache` and `_prefetch_done`, as
  Django's prefetch does): `prefetch_related()` builds a filtered related queryset for every object first.

tests/referral/test_fastpath.py checks every private name used here, so that a Django or psycopg upgrade
that changes them fails loudly there rather than quietly slowing or breaking the search.
"""

import psycopg
from django.db import connections
from django.db.models import QuerySet


def fetch_all(database: str, sql: str, params: list) -> list[tuple]:
    """Run a query and return its rows; on PostgreSQL with binary results (see the module docstring)."""
    with result_cursor(database) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_chunks(database: str, sql: str, params: list, size: int):
    """Run a query and yield its rows `size` at a time (as fetch_all()): a large result need not exist as
    Python objects all at once."""
    with result_cursor(database) as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(size):
            yield rows


def result_cursor(database: str):
    """Django's cursor, or on PostgreSQL a BinaryCursor wrapped the way Django wraps its own."""
    connection = connections[database]
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    return wrap(BinaryCursor(connection.connection))


class BinaryCursor(psycopg.Cursor):
    """Server-side parameters, binary results, never a prepared statement (safe behind a transaction pooler)."""

    def execute(self, query, params=None, **kwargs):
        return super().execute(query, params, binary=True, prepare=False)


class Loaded(QuerySet):
    """A related manager's rows, already loaded: what `instance.<name>.all()` returns after set_prefetched().

    Reading it (iterating, len, count, exists, indexing, first) uses the loaded rows, like a prefetch. Anything
    that needs SQL (filter, order_by, update, …) builds the real related query on first use, so it stays right.
    """

    @classmethod
    def rows_of(cls, model, instance, name: str, rows: list) -> "Loaded":
        # Not built here (QuerySet() would build an empty Query, a third of the time a page's insurance takes):
        # built on first use (clones of it carry a query of their own).
        loaded = cls(model, query=True)
        loaded._query = None
        loaded._related_to = (instance, name)
        loaded._result_cache = rows
        loaded._prefetch_done = True
        return loaded

    @property
    def query(self):
        if self._query is None:
            instance, name = self._related_to
            cache = instance._prefetched_objects_cache
            loaded = cache.pop(name)  # the related manager returns the cache while it is there
            try:
                self._query = getattr(instance, name).get_queryset().query
            finally:
                cache[name] = loaded
        return self._query

    @query.setter
    def query(self, value):
        self._query = value


def set_prefetched(instance, name: str, model, rows: list) -> None:
    """Make `instance.<name>.all()` return `rows` without a query, as prefetch_related(name) would."""
    cache = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    cache[name] = Loaded.rows_of(model, instance, name, rows)
