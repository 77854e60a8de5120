"""Bulk writes for the large imports: COPY on PostgreSQL (psycopg), bulk_create/bulk_update elsewhere.

These paths skip model save() and signals, so they write no django-simple-history rows unless asked
(insert_with_history, history_rows); the large importers record what each source said in SourceRecord instead.
"""

from functools import partial
from operator import attrgetter, itemgetter

from django.db import connection, connections
from django.utils import timezone
from simple_history.utils import get_change_reason_from_object

BATCH_SIZE = 2000


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _prepared(fields, obj, *, add: bool) -> tuple:
    return tuple(field.get_db_prep_save(field.pre_save(obj, add), connection) for field in fields)


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def insert(model, objs: list, *, with_ids: bool = False) -> None:
    """Insert new model instances; with_ids=True sets each instance's pk (for rows that others point to)."""
    if not objs:
        return
    if not _is_postgresql():
        model.objects.bulk_create(objs, batch_size=BATCH_SIZE)  # SQLite ≥ 3.35 returns the new ids
        return
    opts = model._meta
    with connection.cursor() as cursor:
        if with_ids:  # COPY returns nothing, so take the ids from the table's identity sequence first
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [opts.db_table, opts.pk.column, len(objs)],
            )
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
        fields = [field for field in opts.concrete_fields if with_ids or not field.primary_key]
        _copy(cursor, opts.db_table, [field.column for field in fields], (_prepared(fields, o, add=True) for o in objs))


# Values of these field types go to the driver as Python gives them; others (dates, JSON) are prepared per value.
_PLAIN_TYPES = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "FloatField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def _row_shape(model, names: list[str]):
    """Return (fields, per-field converters or None, constant values of the fields not in `names`).

    The other columns take the model's defaults (auto_now/auto_now_add: the current time), prepared once.
    """
    opts = model._meta
    given = [opts.get_field(name) for name in names]
    template = model()
    rest = [field for field in opts.concrete_fields if field not in given and not field.primary_key]
    constants = tuple(field.get_db_prep_save(field.pre_save(template, True), connection) for field in rest)
    # The connection itself, not the thread-local proxy: its lookup cost more than converting a date.
    database = connections[connection.alias]
    converters = [
        None
        if field.get_internal_type() in _PLAIN_TYPES
        else _memoised(partial(field.get_db_prep_save, connection=database))
        for field in given
    ]
    return given + rest, converters, constants


def _memoised(convert):
    """Return `convert` remembering its result per value: the rows of one insert repeat the same dates and times
    (a count's period, the import's timestamp, None), and preparing each again was two fifths of writing a first
    profiles import (BENCHMARKS.md). Values that cannot be keys (JSON lists and dicts) are prepared every time.
    """
    prepared = {}

    def converted(value):
        try:
            key = (type(value), value)  # a date and the datetime of its midnight are different values
            return prepared[key]
        except KeyError:
            prepared[key] = result = convert(value)
            return result
        except TypeError:  # unhashable
            return convert(value)

    return converted


def _tuples(rows, converters, constants):
    """Return the rows with the values that need it prepared and the constant columns appended.

    Only the columns with a converter are touched, each row once (converting every value through a generator
    cost a fifth of writing a first profiles import, most of it on values passed through as they were).
    """
    converting = [(index, convert) for index, convert in enumerate(converters) if convert is not None]
    if not converting:
        return [(*row, *constants) for row in rows]
    prepared = []
    for row in rows:
        row = list(row)
        for index, convert in converting:
            row[index] = convert(row[index])
        prepared.append((*row, *constants))
    return prepared


def _quoted(names) -> str:
    return ", ".join(connection.ops.quote_name(name) for name in names)


def insert_rows(model, names: list[str], rows: list[tuple], *, with_ids: bool = False) -> list[int] | None:
    """Insert plain rows (values for `names`, in that order; other columns take their defaults), no instances.

    The fast path for tens of thousands of new rows: one prepared executemany on SQLite, COPY on PostgreSQL.
    with_ids=True returns the new rows' ids, in order.
    """
    if not rows:
        return [] if with_ids else None
    opts = model._meta
    fields, converters, constants = _row_shape(model, names)
    columns = [field.column for field in fields]
    ids = None
    with connection.cursor() as cursor:
        if with_ids:
            if _is_postgresql():
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [opts.db_table, opts.pk.column, len(rows)],
                )
                ids = [pk for (pk,) in cursor.fetchall()]
            else:
                # Within the import's transaction SQLite lets no other writer in, so the ids after the current
                # maximum (and the AUTOINCREMENT sequence) are ours.
                table, pk = connection.ops.quote_name(opts.db_table), connection.ops.quote_name(opts.pk.column)
                cursor.execute(
                    f"SELECT MAX(COALESCE((SELECT MAX({pk}) FROM {table}), 0), "
                    "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
                    [opts.db_table],
                )
                last = cursor.fetchone()[0]
                ids = list(range(last + 1, last + 1 + len(rows)))
            columns = [opts.pk.column, *columns]
            prepared = ((pk, *values) for pk, values in zip(ids, _tuples(rows, converters, constants), strict=True))
        else:
            prepared = _tuples(rows, converters, constants)
        if _is_postgresql():
            _copy(cursor, opts.db_table, columns, prepared)
        else:
            cursor.executemany(
                f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({_quoted(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                list(prepared),
            )
    return ids


def upsert_rows(model, names: list[str], rows: list[tuple], *, unique_fields: list[str], update_fields: list[str]):
    """Insert plain rows, or update `update_fields` of the row with the same `unique_fields` (see insert_rows)."""
    if not rows:
        return
    opts = model._meta
    fields, converters, constants = _row_shape(model, names)
    columns = [field.column for field in fields]
    unique = _quoted(opts.get_field(name).column for name in unique_fields)
    updates = [connection.ops.quote_name(opts.get_field(name).column) for name in update_fields]
    with connection.cursor() as cursor:
        if _is_postgresql():
            _copy_upsert(cursor, model, fields, _tuples(rows, converters, constants), unique_fields, update_fields)
        else:
            cursor.executemany(
                f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({_quoted(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT ({unique}) DO UPDATE SET {', '.join(f'{name} = excluded.{name}' for name in updates)}",
                list(_tuples(rows, converters, constants)),
            )


def _temp_table(cursor, model, fields) -> str:
    """Create an empty temporary table shaped like `fields` of `model`; return its name."""
    from psycopg import sql

    name = f"bulk_{model._meta.db_table}"
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    cursor.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(name),
            sql.SQL(", ").join(sql.Identifier(field.column) for field in fields),
            sql.Identifier(model._meta.db_table),
        )
    )
    return name


def update(model, objs: list, field_names: list[str]) -> None:
    """Save `field_names` of existing instances (matched by pk)."""
    if not objs:
        return
    opts = model._meta
    fields = [opts.pk] + [opts.get_field(name) for name in field_names]
    for obj in objs:  # as save() would: auto_now fields (updated_at) take the current time
        for field in fields[1:]:
            setattr(obj, field.attname, field.pre_save(obj, add=False))
    if not _is_postgresql():
        model.objects.bulk_update(objs, field_names, batch_size=500)
        return
    from psycopg import sql

    with connection.cursor() as cursor:
        temp = _temp_table(cursor, model, fields)
        _copy(cursor, temp, [f.column for f in fields], (_prepared(fields, o, add=False) for o in objs))
        cursor.execute(
            sql.SQL("UPDATE {table} AS t SET {assignments} FROM {temp} AS s WHERE t.{pk} = s.{pk}").format(
                table=sql.Identifier(opts.db_table),
                assignments=sql.SQL(", ").join(
                    sql.SQL("{0} = s.{0}").format(sql.Identifier(f.column)) for f in fields[1:]
                ),
                temp=sql.Identifier(temp),
                pk=sql.Identifier(opts.pk.column),
            )
        )
        cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(temp)))


def upsert(model, objs: list, *, unique_fields: list[str], update_fields: list[str]) -> None:
    """Insert instances, or update `update_fields` of the row that has the same `unique_fields`."""
    if not objs:
        return
    if not _is_postgresql():
        model.objects.bulk_create(
            objs,
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=unique_fields,
            update_fields=update_fields,
        )
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    with connection.cursor() as cursor:
        rows = (_prepared(fields, o, add=True) for o in objs)
        _copy_upsert(cursor, model, fields, rows, unique_fields, update_fields)


def _copy_upsert(cursor, model, fields, rows, unique_fields: list[str], update_fields: list[str]) -> None:
    """PostgreSQL: COPY prepared rows of `fields` into a temporary table, then insert them into the model's
    table, updating `update_fields` of rows that clash on `unique_fields`."""
    from psycopg import sql

    opts = model._meta
    column = {name: sql.Identifier(opts.get_field(name).column) for name in [*unique_fields, *update_fields]}
    temp = _temp_table(cursor, model, fields)
    _copy(cursor, temp, [field.column for field in fields], rows)
    cursor.execute(
        sql.SQL(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM {temp} "
            "ON CONFLICT ({unique}) DO UPDATE SET {assignments}"
        ).format(
            table=sql.Identifier(opts.db_table),
            columns=sql.SQL(", ").join(sql.Identifier(field.column) for field in fields),
            temp=sql.Identifier(temp),
            unique=sql.SQL(", ").join(column[name] for name in unique_fields),
            assignments=sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(column[name]) for name in update_fields
            ),
        )
    )
    cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(temp)))


def delete(queryset) -> int:
    """Delete the rows of a simple filtered queryset in one statement, without loading them.

    QuerySet.delete() would fetch every row and, because simple-history listens to post_delete, write one
    history row each: far too slow for replacing a whole year of imported counts.
    """
    return queryset._raw_delete(queryset.db)


def insert_with_history(model, objs: list, *, default_user=None) -> None:
    """Insert new instances (setting their pk) and one "+" history row each, through insert_rows.

    The rows are those simple_history.utils.bulk_create_with_history writes (every tracked field, the
    instance's _change_reason, its _history_user or `default_user`), without Django's INSERT compiler
    preparing each value and a historical instance built per row: that was most of a first profiles
    import (BENCHMARKS.md, "Profiles CSV import"). auto_now / auto_now_add fields take the current time, as
    bulk_create sets them; model save() and signals are skipped, as bulk_create skips them.
    """
    if not objs:
        return
    now = timezone.now()
    for obj in objs:  # as bulk_create does: a foreign key to an instance saved since takes its pk
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                setattr(obj, field.attname, now)
    names = [field.attname for field in fields]
    for obj, pk in zip(objs, insert_rows(model, names, list(map(_values(names), objs)), with_ids=True), strict=True):
        obj.pk = pk
        obj._state.adding = False
    history_rows(model, objs, history_type="+", default_user=default_user, date=now)


# What a history row holds besides the tracked fields, in the order the rows below give them.
HISTORY_COLUMNS = ["history_date", "history_change_reason", "history_type", "history_user_id"]


def insert_rows_with_history(model, names: list[str], rows: list[tuple], *, reasons: list, default_user=None):
    """Insert plain rows (values for `names`, in that order) and one "+" history row each, built from the same
    tuples; return the new ids. `reasons` are the rows' change reasons, in order.

    The history rows are those insert_with_history writes for instances holding these values: the other fields
    take the model's defaults (auto_now and auto_now_add fields: the current time, also the history date), the
    user is `default_user`, else simple-history's default user. No model instance is built: for tens of
    thousands of new trainings and counts that was a fifth of a first profiles import (BENCHMARKS.md).
    """
    if not rows:
        return []
    historical = model.history.model
    now = timezone.now()
    template = model()  # no _history_user: simple-history's default user as for an instance without one
    rest = [f for f in model._meta.concrete_fields if not f.primary_key and f.attname not in names]
    for field in rest:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            setattr(template, field.attname, now)
    every = [*names, *(field.attname for field in rest)]
    constants = tuple(getattr(template, field.attname) for field in rest)
    rows = [(*row, *constants) for row in rows]
    ids = insert_rows(model, every, rows, with_ids=True)
    position = {name: index for index, name in enumerate([model._meta.pk.attname, *every])}
    tracked = [field.attname for field in historical.tracked_fields]
    pick = itemgetter(*(position[name] for name in tracked))
    user = default_user or historical.get_default_history_user(template)
    user = getattr(user, "pk", user)
    history = [(*pick((pk, *row)), now, reason, "+", user) for pk, row, reason in zip(ids, rows, reasons, strict=True)]
    insert_rows(historical, [*tracked, *HISTORY_COLUMNS], history)
    return ids


def _values(names):
    """Return a function giving an object's `names` attributes as a tuple (attrgetter gives one alone bare)."""
    read = attrgetter(*names)
    return read if len(names) > 1 else lambda obj: (read(obj),)


def history_rows(model, objs: list, *, history_type: str, default_user=None, date=None) -> None:
    """Write one history row per instance, as simple-history's bulk_history_create does (see insert_with_history)."""
    if not objs:
        return
    historical = model.history.model
    tracked = [field.attname for field in historical.tracked_fields]
    names = [*tracked, *HISTORY_COLUMNS]
    date = date or timezone.now()
    tracked_values = _values(tracked)
    fallback = unset = object()
    rows = []
    for obj in objs:
        user = getattr(obj, "_history_user", unset)
        if user is unset:
            # The same for every object without its own _history_user (simple-history's get_history_user reads
            # the instance for that attribute alone, then the request), so asked once per insert, not per row.
            if fallback is unset:
                fallback = default_user or historical.get_default_history_user(obj)
            user = fallback
        reason = get_change_reason_from_object(obj)
        rows.append((*tracked_values(obj), date, reason, history_type, getattr(user, "pk", user)))
    insert_rows(historical, names, rows)
