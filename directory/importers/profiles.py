"""The profiles CSV: one row per specialist, the format curators use for bulk work (docs/data-sources.md).

`import_profiles()` upserts specialists by NPI; `write_profiles_csv()` writes the same format, so that an
export imported again changes nothing. For a specialist already on file a blank cell leaves the field as it
is; the marker CLEAR ("(clear)") empties it. Nothing is cleared silently.
"""

import copy
import csv
import gc
import re
from collections import namedtuple
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, transaction
from django.db.models import Model, Prefetch
from django.db.models.expressions import RawSQL
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from directory.csvsafe import neutralise_cell, restore_cell
from directory.importers.bulk import insert_rows, insert_rows_with_history, insert_with_history
from directory.importers.rows import (
    parse_bool,
    parse_choice,
    parse_count,
    parse_date,
    parse_phone,
    parse_state,
    parse_website,
    parse_year,
    split_list,
)
from directory.models import (
    Affiliation,
    CoordinatesSource,
    Insurance,
    Practice,
    Procedure,
    ProcedureVolume,
    RecordSource,
    Service,
    Specialist,
    Specialty,
    Training,
    VolumeSource,
    ZipCode,
    batch_changes,
    located_zip,
    normalize_zip,
    specialists_touched,
    validate_npi,
)
from directory.volumes import SOURCE_PREFERENCE

COUNT_COLUMNS = {
    "mis_si_fusion_count": Procedure.MIS_SI_FUSION,
    "open_si_fusion_count": Procedure.OPEN_SI_FUSION,
    "si_injection_count": Procedure.SI_INJECTION,
    "rf_ablation_count": Procedure.RF_ABLATION,
    "lumbar_fusion_count": Procedure.LUMBAR_FUSION,
}
# Practice columns and the Practice fields they fill.
PRACTICE_COLUMNS = {
    "practice_name": "name",
    "address_line1": "address_line1",
    "address_line2": "address_line2",
    "city": "city",
    "state": "state",
    "zip": "zip_code",
    "phone": "phone",
}
PRACTICE_COLUMN_OF = {field_name: column for column, field_name in PRACTICE_COLUMNS.items()}
SERVICE_COLUMNS = [service.value for service in Service]
TEXT_COLUMNS = ["first_name", "last_name", "credentials", "website"]
BOOLEAN_COLUMNS = ["accepting_new_patients", "telehealth", *SERVICE_COLUMNS]
BOOLEAN_FIELDS = [*((column, column) for column in BOOLEAN_COLUMNS), ("published", "is_published")]  # (column, field)
VOLUME_PERIOD_COLUMNS = ["volume_period_start", "volume_period_end", "volume_source"]
COLUMNS = [
    "npi",
    "first_name",
    "last_name",
    "credentials",
    "specialty",
    *PRACTICE_COLUMNS,
    "insurance",
    "insurance_confirmed",
    "website",
    "accepting_new_patients",
    "telehealth",
    "languages",
    *SERVICE_COLUMNS,
    "si_training",
    *COUNT_COLUMNS,
    *VOLUME_PERIOD_COLUMNS,
    "verified",
    "published",
]
# A new specialist cannot be created without these, and a specialist on file cannot lose them.
NEW_SPECIALIST_COLUMNS = ["first_name", "last_name", "specialty"]
# The marker that empties a field (a blank cell leaves it as it is).
CLEAR = "(clear)"
# Columns CLEAR cannot empty, and what to write instead.
NOT_CLEARABLE = {
    "npi": "rows are matched to specialists by NPI",
    "first_name": "a specialist always has a first name",
    "last_name": "a specialist always has a last name",
    "specialty": "a specialist always has a specialty (write other)",
    "practice_name": "a practice always has a name",
    "zip": "a practice always has a ZIP",
    "volume_period_start": "a count always has a period",
    "volume_period_end": "a count always has a period",
    "volume_source": "a count always has a source",
    "insurance_confirmed": "write (clear) in the insurance column, which forgets the list and its date",
    **dict.fromkeys([*BOOLEAN_COLUMNS, "verified", "published"], "write no instead"),
}
TRAINING_PATTERN = re.compile(r"(?P<course>.*?)\s*\((?P<year>[0-9]{1,6})\)")
FIRST_TRAINING_YEAR = 1950  # as the Training model's constraint
CHANGE_REASON = "Profiles CSV import"
LISTED_CHANGES = 500  # created / updated rows listed on the admin's preview page (rejected rows are all listed)
TRAINING_COLUMN = {"course": "si_training", "year": "si_training", NON_FIELD_ERRORS: "si_training"}
GROUPS = ("created", "updated", "unchanged", "rejected")


# The fields full_clean() leaves out: a row's objects point to its specialist (saved with it) and verified_by
# is only ever the importing user.
FULL_CLEAN_EXCLUDE = {"specialist", "verified_by"}


class ProfileFileError(ValueError):
    """The file as a whole cannot be imported (empty, unknown or repeated columns, no npi column)."""


class RowRejected(Exception):
    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors  # [(column, reason)]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class Change:
    """One field of one profile, before and after the import."""

    column: str
    old: str
    new: str

    def __str__(self):
        return f"{self.column}: {self.old or '(blank)'} → {self.new or '(blank)'}"


@dataclass
class RowOutcome:
    row: int
    npi: str
    name: str
    action: str  # created, updated, unchanged or rejected
    changes: list[str] = field(default_factory=list)  # the columns that changed
    errors: list[RowError] = field(default_factory=list)
    diffs: list[Change] = field(default_factory=list)  # every change, old → new


@dataclass
class ProfileImportResult:
    outcomes: list[RowOutcome]
    dry_run: bool = False
    atomic: bool = False

    def count(self, action: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    @property
    def errors(self) -> list[RowError]:
        return [error for outcome in self.outcomes for error in outcome.errors]

    @property
    def written(self) -> bool:
        """Whether the changes were kept (not a dry run, and not an --atomic import with a bad row)."""
        return not self.dry_run and not (self.atomic and self.rejected)

    @property
    def listed_outcomes(self) -> list[RowOutcome]:
        """Return the rows worth showing: every rejected row and up to LISTED_CHANGES created or updated."""
        changed = [outcome for outcome in self.outcomes if outcome.action in ("created", "updated")]
        shown = {id(outcome) for outcome in changed[:LISTED_CHANGES]}
        return [outcome for outcome in self.outcomes if outcome.action == "rejected" or id(outcome) in shown]

    @property
    def groups(self) -> list[tuple[str, int, list[RowOutcome]]]:
        """Return (action, count, listed rows) for created, updated, unchanged and rejected, in that order."""
        listed = self.listed_outcomes
        return [
            (action, self.count(action), [outcome for outcome in listed if outcome.action == action])
            for action in GROUPS
        ]

    @property
    def unlisted_changes(self) -> int:
        return max(0, self.created + self.updated - LISTED_CHANGES)

    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, rejected {self.rejected}"

    def report_lines(self) -> list[str]:
        """Return the summary, then every row grouped created / updated / unchanged / rejected, changes old → new."""
        lines = [self.summary()]
        for action in GROUPS:
            outcomes = [outcome for outcome in self.outcomes if outcome.action == action]
            if not outcomes:
                continue
            lines.append(f"{action.capitalize()} ({len(outcomes)}):")
            for outcome in outcomes:
                who = ", ".join(part for part in (outcome.npi or "no NPI", outcome.name) if part)
                lines.append(f"  row {outcome.row} ({who})")
                lines += [f"    {change}" for change in outcome.diffs]
                lines += [f"    {error.column or 'row'}: {error.reason}" for error in outcome.errors]
        return lines


# --- Reading -----------------------------------------------------------------------------------------


def read_header(reader) -> list[str]:
    """Return the normalized column names of a csv.reader; raise ProfileFileError if they are unusable."""
    try:
        header = next(reader)
    except StopIteration:
        raise ProfileFileError("The file is empty: the first line must name the columns.") from None
    columns = [name.strip().lower() for name in header]
    unknown = [name or "(blank)" for name in columns if name not in COLUMNS]
    if unknown:
        raise ProfileFileError(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"The profiles CSV accepts only: {', '.join(COLUMNS)}."
        )
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise ProfileFileError(f"Column{'s' if len(repeated) > 1 else ''} named twice: {', '.join(repeated)}.")
    if "npi" not in columns:
        raise ProfileFileError("The file has no npi column: rows are matched to specialists by NPI.")
    return columns


def import_profiles(
    lines, *, dry_run=False, atomic=False, user=None, progress=None, reason=CHANGE_REASON
) -> ProfileImportResult:
    """Upsert one specialist per CSV row of `lines` (a text file or any iterable of lines), keyed by NPI.

    Bad rows are rejected with row, column and reason (every problem of the file, in one pass) while good rows
    are written; a row is written whole or not at all. With `atomic`, one bad row rolls the whole file back.
    `dry_run` rolls everything back but reports the same. `user` is recorded as the verifier of rows marked
    verified and as the author of the change history, whose reason is `reason` and the row number.

    The file is read whole and checked row by row against what is on file, loaded for all its NPIs in a few
    queries; the changes are then written in bulk per model, with their history (no query per row).
    """
    reader = csv.reader(lines)
    result = ProfileImportResult(outcomes=[], dry_run=dry_run, atomic=atomic)
    try:
        importer = _RowImporter(read_header(reader), user=user, reason=reason)
        rows = [(reader.line_num, values) for values in reader if any(value.strip() for value in values)]
    except UnicodeDecodeError:
        raise ProfileFileError(f"Line {reader.line_num + 1} is not UTF-8 text; save the file as CSV UTF-8.") from None
    except csv.Error as error:
        raise ProfileFileError(f"Line {reader.line_num}: the file is not readable CSV ({error}).") from None
    rows = [(row_number, values, importer.cells(values)) for row_number, values in rows]
    first_row_of_npi = {}
    try:
        with transaction.atomic(), collection_paused():
            with batch_changes():
                importer.load([cells for _, _, cells in rows])
                for row_number, values, cells in rows:
                    result.outcomes.append(importer.import_row(row_number, values, cells, first_row_of_npi))
                    if progress:
                        progress(1)
                if not (atomic and result.rejected):  # a dry run writes too, so that it meets what the import would
                    importer.writes.flush()
            if not result.written:
                transaction.set_rollback(True)
    except DatabaseError:
        raise ProfileFileError(
            "The database refused the file's changes, so nothing was written; check its values."
        ) from None
    return result


@contextmanager
def collection_paused():
    """Pause Python's cyclic garbage collector while the import builds its objects.

    The import keeps every row's objects until it writes them, so each collection walks an ever larger heap:
    on 10,000 rows collecting took 40% of a first import and half of an unchanged re-import (BENCHMARKS.md).
    What the import leaves behind is freed by reference counting, or by the next collection after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def chunked(items, size=900):
    """Yield lists of at most `size` items (SQLite takes at most 999 query parameters on older versions)."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(model, name, values):
    """Yield `name__in` lookups of `model` that together cover `values`, for loading what is on file.

    On PostgreSQL one array parameter holds them all (`IN (SELECT unnest(%s::type[]))`): psycopg splits a query
    of 900 placeholders anew each time (too long for its cache) and Django prepares each value, which was a fifth
    of an unchanged re-import there. Elsewhere, chunks of 900 values (see chunked).
    """
    values = list(values)
    if connection.vendor != "postgresql":
        for chunk in chunked(values):
            yield {f"{name}__in": chunk}
    elif values:
        db_type = model._meta.get_field(name).db_type(connection)
        yield {f"{name}__in": RawSQL(f"SELECT unnest(%s::{db_type}[])", [values])}


class _RowImporter:
    """Parse and check rows of one file against what is on file (loaded once), and collect their writes."""

    def __init__(self, columns, *, user=None, reason=CHANGE_REASON):
        self.columns = columns
        self.present = set(columns)
        self.user = user
        self.reason = reason
        self.zip_codes = {}  # raw cell -> ZipCode or ValidationError
        self.zip_rows = {}  # code -> ZipCode (or None when unknown)
        self.specialists = {}  # NPI -> Specialist on file
        self.affiliations = {}  # NPI -> [Affiliation], primary first
        self.trainings = {}  # NPI -> [Training, or its row on file (see rows_on_file)]
        self.volumes = {}  # NPI -> [ProcedureVolume, or its row on file]
        self.practices = {}  # (name, address_line1, zip_code) -> [Practice], oldest first
        self.now = timezone.now()
        self.insurance = _InsuranceOnFile()
        self.writes = _Writes(self)
        self.parsed = {}  # (parse function, cell text) -> (value, problem or None), see _Row.attempt
        self.read_cells = {}  # (column, parse function, cell text) -> (value, problem or None), see _Row.read
        self.cleaned = {}  # (model field, type, value) -> (cleaned value, ValidationError or None)
        self.checked_fields = {}  # model -> the fields full_clean() checks
        self.practice_checks = {}  # a practice's (field, value) pairs -> [(column, problem)], see practice_problems
        self.cleaned_rows = {}  # (model, new row) -> the row cleaned, or its ValidationError (see full_clean_row)
        self.field_problems = {}  # (model, field name, type, value) -> the field's complaint or None

    def clean_value(self, field, value) -> tuple:
        """Return (field.clean(value), None) or (None, the ValidationError), kept per file.

        Only for fields whose checks look at the value alone (not foreign keys, which full_clean excludes here).
        """
        try:
            key = (field, type(value), value)  # type: True == 1, but a BooleanField and a count differ
            cleaned = self.cleaned.get(key)
        except TypeError:  # an unhashable value (a JSON list): checked every time
            key = cleaned = None
        if cleaned is None:
            try:
                cleaned = (field.clean(value, None), None)
            except ValidationError as error:
                cleaned = (None, error)
            if key is not None:
                self.cleaned[key] = cleaned
        return cleaned

    def field_problem(self, model, name, value) -> str | None:
        """Return what the model field's own validation (length, URL) says of `value`, or None; kept per file."""
        key = (model, name, type(value), value)
        problem = self.field_problems.get(key, UNCHECKED)
        if problem is UNCHECKED:
            _, error = self.clean_value(model._meta.get_field(name), value)
            problem = self.field_problems[key] = None if error is None else " ".join(error.messages)
        return problem

    def practice_problems(self, values: dict) -> list[tuple[str, str]]:
        """Return (column, problem) for each of a practice's fields (text) that its own validation refuses.

        Kept per file by the whole practice: its specialists' rows repeat it, and checking its seven fields one
        look-up each was a tenth of parsing an unchanged re-import.
        """
        key = tuple(values.items())
        problems = self.practice_checks.get(key)
        if problems is None:
            problems = self.practice_checks[key] = [
                (PRACTICE_COLUMN_OF[name], problem)
                for name, value in values.items()
                if (problem := self.field_problem(Practice, name, value)) is not None
            ]
        return problems

    def full_clean(self, instance):
        """instance.full_clean(exclude=FULL_CLEAN_EXCLUDE, validate_constraints=False), with field checks kept
        per file (clean_value): the same checks, the same messages, a fraction of the time on a large file.

        Model.full_clean() is clean_fields(), clean() and validate_unique(); validate_unique() checks nothing
        for these models (they have no unique fields but the primary key, which it skips; their unique
        constraints are constraints: see validate()), which tests/directory/test_import_profiles.py asserts.
        """
        errors, cleaned = self.clean_fields(type(instance), instance)
        for attname, value in cleaned.items():
            setattr(instance, attname, value)
        try:
            instance.clean()
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def full_clean_row(self, model, row):
        """full_clean() for a new object planned as a row of row_type(model) instead of an instance: the same
        field checks through the same caches, then the model's clean() (which reads the fields alone, and a row
        has them as attributes); return the row with the cleaned values.

        The outcome is kept per file by the row's values: new trainings and counts repeat the same course and
        year, the same period and count, row after row (their specialist is not among the values yet).
        """
        key = (model, row)
        outcome = self.cleaned_rows.get(key)
        if outcome is None:
            errors, cleaned = self.clean_fields(model, row)
            outcome = row._replace(**cleaned) if cleaned else row
            try:
                model.clean(outcome)
            except ValidationError as error:
                errors = error.update_error_dict(errors)
            if errors:
                outcome = ValidationError(errors)
            self.cleaned_rows[key] = outcome
        if isinstance(outcome, ValidationError):
            raise outcome
        return outcome

    def clean_fields(self, model, obj) -> tuple[dict, dict]:
        """As Model.clean_fields() on `obj` (an instance or a row): return ({field: errors}, {attname: cleaned
        value} for the values cleaning changed)."""
        fields = self.checked_fields.get(model)
        if fields is None:
            fields = [f for f in model._meta.fields if f.name not in FULL_CLEAN_EXCLUDE and not f.generated]
            self.checked_fields[model] = fields
        errors, changed = {}, {}
        for model_field in fields:
            raw_value = getattr(obj, model_field.attname)
            if model_field.blank and raw_value in model_field.empty_values:
                continue
            cleaned, error = self.clean_value(model_field, raw_value)
            if error is not None:
                errors[model_field.name] = error.error_list
            elif cleaned is not raw_value:
                changed[model_field.attname] = cleaned
        return errors, changed

    def cells(self, values) -> dict:
        # restore_cell() changes only a cell that starts with an apostrophe: calling it for those alone halved
        # the cost of reading the cells (a tenth of an unchanged re-import).
        texts = [restore_cell(text) if text[:1] == "'" else text for text in map(str.strip, values)]
        padded = texts + [""] * (len(self.columns) - len(values))
        return dict(zip(self.columns, padded, strict=False))

    def load(self, rows):
        """Load the specialists, practices and ZIPs that the file's rows name, in a few queries per 900 rows."""
        npis = {cells.get("npi", "") for cells in rows} - {""}
        for lookup in among(Specialist, "npi", npis):
            for specialist in Specialist.objects.filter(**lookup):
                self.specialists[specialist.npi] = specialist
        npi_of = {specialist.pk: npi for npi, specialist in self.specialists.items()}
        # Trainings and counts, most of what is on file, stay rows: a row changes few of them, and building a
        # model instance of each was a fifth of an unchanged re-import (BENCHMARKS.md).
        affiliations = []
        for lookup in among(Training, "specialist", npi_of):  # the same foreign key in the three models
            affiliations += Affiliation.objects.filter(**lookup).primary_first()
            for training in rows_on_file(Training.objects.filter(**lookup).order_by("id")):
                self.trainings.setdefault(npi_of[training.specialist_id], []).append(training)
            for volume in rows_on_file(ProcedureVolume.objects.filter(**lookup).order_by("id")):
                self.volumes.setdefault(npi_of[volume.specialist_id], []).append(volume)
        # One Practice object per practice (the file's practices by name, then those linked but not named).
        names = {cells["practice_name"] for cells in rows if cells.get("practice_name")}
        by_pk = self.load_practices("name", names)
        by_pk |= self.load_practices("id", {a.practice_id for a in affiliations} - set(by_pk))
        by_pk |= self.load_practices("name", {practice.name for practice in by_pk.values()} - names)
        for affiliation in affiliations:
            affiliation.practice = by_pk[affiliation.practice_id]
            self.affiliations.setdefault(npi_of[affiliation.specialist_id], []).append(affiliation)
        for practice in sorted(by_pk.values(), key=lambda practice: practice.pk):
            self.practices.setdefault(practice_key(practice), []).append(practice)
        if any(cells.get(column) for cells in rows for column in INSURANCE_COLUMNS):  # else nothing to compare
            self.insurance.load(by_pk)
        codes = set()
        for cells in rows:
            try:
                codes.add(normalize_zip(cells.get("zip", "")))
            except ValidationError:
                continue
        self.load_zip_rows(codes | {practice.zip_code for practice in by_pk.values()})

    @staticmethod
    def load_practices(field, values) -> dict:
        """Return {pk: Practice} of the practices whose `field` is among `values` (see among)."""
        return {
            practice.pk: practice
            for lookup in among(Practice, field, values)
            for practice in Practice.objects.filter(**lookup)
        }

    def load_zip_rows(self, codes):
        codes = {code for code in codes if code and code not in self.zip_rows}
        for lookup in among(ZipCode, "code", codes):
            self.zip_rows.update((row.code, row) for row in ZipCode.objects.filter(**lookup))
        self.zip_rows.update(dict.fromkeys(codes - set(self.zip_rows)))

    def import_row(self, row_number, values, cells, first_row_of_npi) -> RowOutcome:
        npi = cells.get("npi", "")
        name = " ".join(part for part in (cells.get("first_name", ""), cells.get("last_name", "")) if part)
        outcome = RowOutcome(row=row_number, npi=npi, name=name, action="rejected")
        try:
            nul = [
                (column, "holds a NUL byte, which cannot be stored.")
                for column, text in cells.items()
                if "\x00" in text
            ]
            if nul:  # such a value never reaches a query: PostgreSQL refuses it
                raise RowRejected(nul)
            errors = []
            if len(values) > len(self.columns):
                errors.append(("", f"the row has {len(values)} values but the header names {len(self.columns)}."))
            if npi in first_row_of_npi:
                errors.append(("npi", f"NPI {npi} already appears on row {first_row_of_npi[npi]}."))
            parsed = _Row(self, cells, errors).parse()
            if errors:
                raise RowRejected(errors)
            first_row_of_npi[npi] = row_number
            if parsed.specialist is not None and not name:
                outcome.name = parsed.specialist.full_name
            outcome.action, outcome.changes, outcome.diffs = parsed.write(f"{self.reason}, row {row_number}")
        except RowRejected as rejected:
            outcome.errors = [RowError(row_number, column, reason) for column, reason in rejected.errors]
        return outcome

    def zip_code(self, raw) -> ZipCode:
        if raw not in self.zip_codes:
            try:
                code = normalize_zip(raw)
                if code not in self.zip_rows:  # load() took the file's ZIPs: a look-up each was 8% of a re-import
                    self.load_zip_rows({code})
                self.zip_codes[raw] = located_zip(code, self.zip_rows[code])
            except ValidationError as error:
                self.zip_codes[raw] = error
        found = self.zip_codes[raw]
        if isinstance(found, ValidationError):
            raise found
        return found


UNCHECKED = object()  # not looked at yet (None is a value that passed)


def parsed_cell(parse, text) -> tuple:
    """Return (parse(text), None), or (None, the problem as a sentence for the file's author)."""
    try:
        return (parse(text), None)
    except ValidationError as error:
        return (None, " ".join(error.messages))
    except ValueError as error:
        return (None, str(error))


def rejected(error: ValidationError, column_of: dict) -> RowRejected:
    """Return a model's validation errors as a rejected row, by column and in plain words."""
    column_of = {NON_FIELD_ERRORS: "", **column_of}
    return RowRejected(
        [
            (column_of.get(name, name), plain_message(message))
            for name, messages in error.message_dict.items()
            for message in messages
        ]
    )


def not_clearable(column) -> str:
    return f"{CLEAR} cannot empty this column: {NOT_CLEARABLE[column]}."


def practice_key(practice) -> tuple:
    return (practice.name, practice.address_line1, practice.zip_code)


class _Row:
    """One row: its cells parsed and checked against the specialist on file, then its writes planned."""

    def __init__(self, importer: _RowImporter, cells: dict, errors: list):
        self.importer = importer
        self.cells = cells
        self.errors = errors
        self.specialist: Specialist | None = None
        self.fields: dict = {}  # Specialist field -> new value
        self.verified: bool | None = None
        self.practice: dict | None = None  # Practice field -> value (the practice the row names), or None
        self.trainings: list | None = None
        self.volumes: dict | None = None
        self.insurance: tuple | None = None  # (Insurance list, confirmed on), ([], None) to forget, or None
        self.linked_practice: Practice | None = None

    # --- parsing: cells -> plain values, every problem reported with its column

    def given(self, column) -> str | None:
        """Return the cell's text, "" for CLEAR, or None when the cell is blank or the column absent."""
        text = self.cells.get(column, "")
        if not text:
            return None
        if text.lower() == CLEAR:
            if column in NOT_CLEARABLE:
                self.errors.append((column, not_clearable(column)))
                return None
            return ""
        return text

    def read(self, column, parse):
        """given() then attempt(), for a column CLEAR cannot empty: the parsed cell, or None when it is blank
        (or refused: the problem is added to the row's errors).

        The outcome is kept per file by column and text, so that each yes/no cell (14 a row) costs one look-up
        instead of two calls: a tenth of parsing an unchanged re-import.
        """
        text = self.cells.get(column, "")
        key = (column, parse, text)
        outcome = self.importer.read_cells.get(key)
        if outcome is None:
            if not text:
                outcome = (None, None)
            elif text.lower() == CLEAR:
                outcome = (None, not_clearable(column))
            else:
                outcome = parsed_cell(parse, text)
            self.importer.read_cells[key] = outcome
        value, problem = outcome
        if problem is not None:
            self.errors.append((column, problem))
        return value

    def attempt(self, column, parse, text):
        """Return parse(text), or None with the problem added to the row's errors.

        The outcome is kept per file: a file repeats the same phones, ZIPs, years and yes/no words row after
        row, and parsing them again (phonenumbers above all) was a third of an unchanged re-import.
        """
        key = (parse, text)
        parsed = self.importer.parsed.get(key)
        if parsed is None:
            parsed = self.importer.parsed[key] = parsed_cell(parse, text)
        value, problem = parsed
        if problem is not None:
            self.errors.append((column, problem))
        return value

    def check_field(self, model, name, column, value):
        """Run the model field's own validation (length, URL) so that the row reports it with the others."""
        problem = self.importer.field_problem(model, name, value)
        if problem is not None:
            self.errors.append((column, problem))

    def parse(self) -> "_Row":
        npi = self.attempt("npi", parse_npi, self.cells.get("npi", ""))
        if npi:
            self.specialist = self.importer.specialists.get(npi) or Specialist(
                npi=npi, record_source=RecordSource.PROFILE_IMPORT
            )
        creating = self.specialist is None or self.specialist.pk is None
        for column in TEXT_COLUMNS:
            text = self.given(column)
            if text:
                text = self.attempt(column, parse_website, text) if column == "website" else text
            if text is not None:
                self.fields[column] = text
                self.check_field(Specialist, column, column, text)
        if (specialty := self.read("specialty", parse_specialty)) is not None:
            self.fields["specialty"] = specialty
        if (text := self.given("languages")) is not None:
            self.fields["languages"] = "; ".join(split_list(text))
            self.check_field(Specialist, "languages", "languages", self.fields["languages"])
        for column, name in BOOLEAN_FIELDS:
            if (value := self.read(column, parse_bool)) is not None:
                self.fields[name] = value
            elif creating:
                self.fields[name] = False  # a new profile: blank means no (unknown)
        self.verified = self.read("verified", parse_bool)
        if creating and npi:
            reported = {column for column, _ in self.errors}
            missing = [c for c in NEW_SPECIALIST_COLUMNS if not self.fields.get(c) and c not in reported]
            self.errors += [(column, "required for a new specialist.") for column in missing]
        self.parse_practice()
        self.parse_insurance()
        if (text := self.given("si_training")) is not None:
            self.trainings = self.attempt("si_training", parse_trainings, text)
        self.parse_volumes()
        return self

    def primary_practice(self) -> Practice | None:
        if self.specialist is None or self.specialist.pk is None:
            return None
        affiliations = self.importer.affiliations.get(self.specialist.npi)
        return affiliations[0].practice if affiliations else None

    def parse_practice(self):
        """Find the practice the row names; its blank cells keep that practice's values."""
        given = {name: self.given(column) for column, name in PRACTICE_COLUMNS.items()}
        given = {name: value for name, value in given.items() if value is not None}
        self.current_practice = current = self.primary_practice()
        if not given:
            return  # the specialist's practices stay as they are
        if "zip_code" in given:
            zip_code = self.attempt("zip", self.importer.zip_code, given["zip_code"])
            given["zip_code"] = zip_code.code if zip_code else None
        if given.get("state"):
            given["state"] = self.attempt("state", parse_state, given["state"])
        if given.get("phone"):
            given["phone"] = self.attempt("phone", parse_phone, given["phone"])
        key = {
            name: given.get(name, getattr(current, name, "") if current else "")
            for name in ("name", "address_line1", "zip_code")
        }
        for name, column in (("name", "practice_name"), ("zip_code", "zip")):
            if not key[name] and column not in {error[0] for error in self.errors}:
                self.errors.append((column, "required when the row names a practice."))
        if None in given.values() or not key["name"] or not key["zip_code"]:
            return
        found = (
            next(iter(self.importer.practices.get(tuple(key.values()), [])), None)
            if current is None or any(getattr(current, name) != value for name, value in key.items())
            else current
        )
        values = {name: getattr(found, name) for name in PRACTICE_COLUMN_OF} if found else {}
        values.update(given)
        if not values.get("city") or not values.get("state"):  # taken from the ZIP
            zip_code = self.attempt("zip", self.importer.zip_code, values["zip_code"])
            if zip_code is None:
                return
            values["city"] = values.get("city") or zip_code.city
            values["state"] = values.get("state") or zip_code.state
        self.errors += self.importer.practice_problems(values)
        self.practice = {"found": found, "values": values}

    def parse_volumes(self):
        counts = {}
        for column, procedure in COUNT_COLUMNS.items():
            if (text := self.given(column)) is not None:
                counts[procedure] = None if text == "" else self.attempt(column, parse_count, text)
        if not counts:
            return  # blank counts write nothing (never a 0)
        missing = [column for column in VOLUME_PERIOD_COLUMNS if not self.cells.get(column)]
        self.errors += [(column, "required when the row gives a count.") for column in missing]
        if missing:
            return
        start = self.attempt("volume_period_start", parse_date, self.cells["volume_period_start"])
        end = self.attempt("volume_period_end", parse_date, self.cells["volume_period_end"])
        if start and end and end < start:
            self.errors.append(("volume_period_end", "The period cannot end before it starts."))
        source = self.attempt("volume_source", parse_volume_source, self.cells["volume_source"])
        self.volumes = {"period_start": start, "period_end": end, "source": source, "counts": counts}

    def parse_insurance(self):
        """Read the insurance columns: a list (or "none") with the date the office confirmed it; CLEAR forgets
        both (insurance not known). A date alone re-confirms the list on file; blank cells keep it."""
        listed, confirmed = self.given("insurance"), self.given("insurance_confirmed")
        if listed is None and confirmed is None:
            return
        if self.practice is None and self.current_practice is None:
            if not any(column.startswith("practice") or column == "zip" for column, _ in self.errors):
                self.errors.append(
                    (
                        "insurance",
                        "insurance belongs to a practice: the row names none and the specialist has none on file.",
                    )
                )
            return
        if listed == "":  # CLEAR
            if confirmed:
                self.errors.append(("insurance_confirmed", f"leave it blank when insurance is {CLEAR}."))
            self.insurance = ([], None)
            return
        date = self.attempt("insurance_confirmed", parse_confirmed_on, confirmed) if confirmed else None
        if confirmed is None:
            self.errors.append(
                ("insurance_confirmed", "required when the row gives insurance: the date the office confirmed it.")
            )
        if listed is None:  # a date alone: the list on file, confirmed again
            practice = self.current_practice if self.practice is None else self.practice["found"]
            on_file = self.importer.insurance.get(practice) if practice is not None else None
            if on_file is None or on_file[1] is None:
                self.errors.append(
                    (
                        "insurance",
                        "required: the practice's insurance is not on file, so give the "
                        "list the office confirmed (or none).",
                    )
                )
                return
            self.insurance = (on_file[0], date)
            return
        plans = self.attempt("insurance", self.importer.insurance.parse, listed)
        if plans is not None and date is not None:
            self.insurance = (plans, date)

    # --- planning the writes: every changed object is checked before any of the row's changes is kept

    def write(self, reason) -> tuple[str, list[str], list[Change]]:
        specialist = self.specialist
        created = specialist.pk is None
        self.reason = reason
        writes = self.importer.writes
        changed = {name: value for name, value in self.fields.items() if differs(specialist, name, value)}
        verify = self.verified is not None and self.verified != (specialist.verified_at is not None)
        # Changes go to a copy, kept only once the whole row has passed (a rejected row changes nothing); a row
        # that changes none of the specialist's own fields leaves it as it is, so needs no copy (copying every
        # specialist on file was a sixth of an unchanged re-import).
        self.target = target = specialist if created or not (changed or verify) else copy.copy(specialist)
        changes, diffs, commits = [], [], []
        for name, value in changed.items():
            column = "published" if name == "is_published" else name
            diffs.append(Change(column, "" if created else shown(getattr(specialist, name)), shown(value)))
            changes.append(name)
            setattr(target, name, value)
        if verify:
            diffs.append(Change("verified", "" if created else verified_text(specialist), shown(self.verified)))
            target.verified_at, target.verified_by = (
                (self.importer.now, self.importer.user) if self.verified else (None, None)
            )
            changes.append("verified")
        if created or changes:
            self.validate(target, column_of={"is_published": "published"})
            fields = [name for name in changes if name != "verified"]
            fields += ["verified_at", "verified_by"] if "verified" in changes else []
            commits.append(lambda: writes.specialist(target, created, fields, reason))
        if self.practice is not None:
            changes += self.write_practice(diffs, commits)
        if self.insurance is not None:
            changes += self.write_insurance(diffs, commits)
        if self.trainings is not None:
            changes += self.write_trainings(diffs, commits)
        if self.volumes is not None:
            changes += self.write_volumes(diffs, commits)
        for commit in commits:
            commit()
        if created or changes:
            writes.touched.append(target)
        if created:
            return "created", [], diffs
        return ("updated", column_names(changes), diffs) if changes else ("unchanged", [], [])

    def validate(self, instance, *, column_of):
        """full_clean() `instance`, turning validation errors into a rejected row.

        The database constraints' Python checks (one query each) are skipped: the importer has established them
        (rows are looked up by their unique keys; parse_trainings checks the year range), and the database still
        enforces them. verified_by is only ever the importing user, who exists. See _RowImporter.full_clean.
        """
        try:
            self.importer.full_clean(instance)
        except ValidationError as error:
            raise rejected(error, column_of) from None

    def validate_row(self, model, row, *, column_of):
        """validate() for a new object planned as a row (see _RowImporter.full_clean_row); return the row."""
        try:
            return self.importer.full_clean_row(model, row)
        except ValidationError as error:
            raise rejected(error, column_of) from None

    def write_practice(self, diffs, commits) -> list[str]:
        """Link the specialist to the row's practice (found by name, address and ZIP) as their primary one."""
        current = self.current_practice
        found, values = self.practice["found"], self.practice["values"]
        before = {name: getattr(current, name) if current else "" for name in PRACTICE_COLUMN_OF}
        diffs += [
            Change(PRACTICE_COLUMN_OF[name], before[name], value)
            for name, value in values.items()
            if before[name] != value
        ]
        changes = []
        if found is None:
            practice = Practice(**values)
            changed = list(values)
            changes.append("practice")
        else:
            changed = [name for name, value in values.items() if getattr(found, name) != value]
            practice = copy.copy(found) if changed else found
            for name in changed:
                setattr(practice, name, values[name])
            changes += [PRACTICE_COLUMN_OF[name] for name in changed]
        writes = self.importer.writes
        if changes:
            self.validate(practice, column_of=PRACTICE_COLUMN_OF)
            commits.append(lambda: writes.practice(found, practice, changed, self.reason))
        linked = found if found is not None else practice  # the one object that stands for this practice
        self.linked_practice = linked
        affiliations = self.importer.affiliations.get(self.target.npi, []) if self.target.pk else []
        if affiliations and affiliations[0].practice is linked:
            return changes
        commits.append(lambda: writes.link(self.target, linked))
        return [*changes, "practice"]

    def write_insurance(self, diffs, commits) -> list[str]:
        """Give the row's practice (else the specialist's primary one) the row's insurance list and date."""
        practice = self.linked_practice or self.current_practice
        plans, confirmed_on = self.insurance
        old_plans, old_date = self.importer.insurance.get(practice) or ([], None)
        changes = []
        if [p.pk for p in old_plans] != [p.pk for p in plans] or (old_date is None) != (confirmed_on is None):
            diffs.append(Change("insurance", insurance_text(old_plans, old_date), insurance_text(plans, confirmed_on)))
            changes.append("insurance")
        if old_date != confirmed_on:
            diffs.append(Change("insurance_confirmed", shown(old_date), shown(confirmed_on)))
            changes.append("insurance_confirmed")
        if changes:
            commits.append(lambda: self.importer.writes.insurance(practice, plans, confirmed_on, self.reason))
        return changes

    def write_trainings(self, diffs, commits) -> list[str]:
        """Make the specialist's trainings exactly the row's (course, year) list; matching rows are kept."""
        existing = self.importer.trainings.get(self.target.npi, []) if self.target.pk else []
        keep, to_add = [], []
        for course, year in self.trainings:
            match = next((t for t in existing if (t.course, t.year) == (course, year) and t not in keep), None)
            if match is None:
                to_add.append((course, year))
            else:
                keep.append(match)
        stale = [training for training in existing if training not in keep]
        if not stale and not to_add:
            return []
        gone = [(training, editable(Training, training)) for training in stale]
        added = [
            self.validate_row(Training, new_row(Training)._replace(course=course, year=year), column_of=TRAINING_COLUMN)
            for course, year in to_add
        ]
        commits.append(lambda: self.importer.writes.trainings(self.target, keep, added, gone, self.reason))
        on_file = [(training.course, training.year) for training in existing]
        diffs.append(Change("si_training", trainings_text(on_file), trainings_text(self.trainings)))
        return ["trainings"]

    def write_volumes(self, diffs, commits) -> list[str]:
        """Write one ProcedureVolume per non-blank count for the row's period and source; CLEAR deletes it."""
        volumes = self.volumes
        period = {key: volumes[key] for key in ("period_start", "period_end", "source")}
        on_file = self.importer.volumes.get(self.target.npi, []) if self.target.pk else []
        existing = {
            volume.procedure: volume
            for volume in on_file
            if (volume.period_start, volume.period_end, volume.source) == tuple(period.values())
        }
        column_of_procedure = {procedure: column for column, procedure in COUNT_COLUMNS.items()}
        column_of = {
            "period_start": "volume_period_start",
            "period_end": "volume_period_end",
            "source": "volume_source",
        }
        label = f"{period['period_start']:%Y-%m-%d} to {period['period_end']:%Y-%m-%d}, {period['source']}"
        changes, written, deleted = [], [], []
        for procedure, count in volumes["counts"].items():
            column = column_of_procedure[procedure]
            volume = existing.get(procedure)
            old = "" if volume is None else ("suppressed" if volume.is_suppressed else str(volume.count))
            if count is None:  # CLEAR
                if volume is None:
                    continue
                deleted.append((volume, editable(ProcedureVolume, volume)))
            elif volume is None:  # a new count, planned as a row (see _Writes.flush)
                new = new_row(ProcedureVolume)._replace(
                    procedure=procedure, **period, count=count, is_suppressed=False, verified=False
                )
                new = self.validate_row(ProcedureVolume, new, column_of={**column_of, "count": column})
                written.append((None, new))
            else:
                if volume.count == count and not volume.is_suppressed:
                    continue
                new = editable(ProcedureVolume, volume)
                new.count, new.is_suppressed, new.verified = count, False, False  # a new number: unverified
                self.validate(new, column_of={**column_of, "count": column})
                written.append((volume, new))
            diffs.append(Change(f"{column} ({label})", old, "" if count is None else str(count)))
            changes.append(column)
        if written or deleted:
            commits.append(lambda: self.importer.writes.volumes(self.target, written, deleted, self.reason))
        return changes


class _Writes:
    """The accepted rows' changes, in memory until flush() writes them in bulk per model, with their history."""

    BATCH_SIZE = 500

    def __init__(self, importer: _RowImporter):
        self.importer = importer
        self.new_specialists, self.changed_specialists = [], []
        self.specialist_fields = set()
        self.new_practices, self.changed_practices = [], {}  # changed: id(practice) -> practice
        self.practice_fields = set()
        self.new_affiliations, self.gone_affiliations, self.primary_affiliations = [], [], []
        # New trainings and counts: (specialist, row of row_type(model), reason), written as rows (see flush).
        self.new_trainings, self.gone_trainings = [], []
        self.new_volumes, self.changed_volumes, self.gone_volumes = [], [], []
        self.insurance_lists = {}  # id(practice) -> (practice, [Insurance], confirmed on, reason)
        self.touched = []  # the specialists whose profile changed

    # --- keeping a row's changes (the in-memory state later rows are checked against)

    def specialist(self, specialist, created, fields, reason):
        specialist._change_reason = reason
        if created:
            self.new_specialists.append(specialist)
        else:
            self.changed_specialists.append(specialist)
            self.specialist_fields.update(fields)
        self.importer.specialists[specialist.npi] = specialist

    def practice(self, found, practice, fields, reason):
        if found is None:
            practice._change_reason = reason
            self.new_practices.append(practice)
            self.importer.practices.setdefault(practice_key(practice), []).append(practice)
            return
        for name in fields:  # onto the one object that stands for the practice
            setattr(found, name, getattr(practice, name))
        if found.pk is not None:  # a practice an earlier row created is written once, as it ends up
            found._change_reason = reason
            self.changed_practices[id(found)] = found
            self.practice_fields.update(fields)

    def link(self, specialist, practice):
        """Make `practice` the specialist's primary one; the previous primary link is replaced."""
        affiliations = self.importer.affiliations.setdefault(specialist.npi, [])
        for affiliation in affiliations:
            if affiliation.practice is practice:
                others = sorted((a for a in affiliations if a is not affiliation), key=lambda a: a.pk)
                for other in others:
                    other.is_primary = False
                affiliation.is_primary = True
                affiliations[:] = [affiliation, *others]
                self.primary_affiliations.append(affiliation)
                return
        if affiliations and affiliations[0].is_primary:
            self.gone_affiliations.append(affiliations.pop(0))
        affiliation = Affiliation(specialist=specialist, practice=practice, is_primary=True)
        affiliations.insert(0, affiliation)
        self.new_affiliations.append(affiliation)

    def trainings(self, specialist, keep, added, gone, reason):
        """Keep a row's new trainings (rows) and those it drops ((on file, instance to delete) pairs)."""
        for _, training in gone:
            training._change_reason = reason
        self.new_trainings += [(specialist, training, reason) for training in added]
        self.gone_trainings += [instance for _, instance in gone]
        self.importer.trainings[specialist.npi] = [*keep, *added]

    def volumes(self, specialist, written, deleted, reason):
        on_file = self.importer.volumes.setdefault(specialist.npi, [])
        for old, new in written:
            if old is None:  # a row
                self.new_volumes.append((specialist, new, reason))
            else:
                new._change_reason = reason
                self.changed_volumes.append(new)
                on_file.remove(old)
            on_file.append(new)
        for volume, instance in deleted:  # (on file, instance to delete)
            instance._change_reason = reason
            on_file.remove(volume)
            self.gone_volumes.append(instance)

    def insurance(self, practice, plans, confirmed_on, reason):
        self.importer.insurance.remember(practice, plans, confirmed_on)
        self.insurance_lists[id(practice)] = (practice, plans, confirmed_on, reason)

    def write_insurance(self):
        """Write each practice's new insurance list and date with one history entry (after the practices exist).

        One save per changed practice: few rows change insurance, and a history entry must hold both the list
        and its date (simple-history would add one entry for each half of a ManyRelatedManager.set()).
        """
        for practice, plans, confirmed_on, reason in self.insurance_lists.values():
            practice.skip_history_when_saving = True
            try:
                practice.insurance.set(plans)
            finally:
                del practice.skip_history_when_saving
            practice.insurance_confirmed_on = confirmed_on
            practice._change_reason = reason
            if self.importer.user is not None:
                practice._history_user = self.importer.user
            practice.save(update_fields=["insurance_confirmed_on", "updated_at"])

    # --- writing

    def flush(self):
        """Write everything in bulk, with one history entry per changed object, and announce the specialists."""
        user, size, now = self.importer.user, self.BATCH_SIZE, self.importer.now
        history = {"batch_size": size, "default_user": user}
        insert_with_history(Specialist, self.new_specialists, default_user=user)
        if self.changed_specialists:
            for specialist in self.changed_specialists:
                specialist.updated_at = now  # auto_now, which bulk_update does not set
            fields = [*sorted(self.specialist_fields), "updated_at"]
            bulk_update_with_history(self.changed_specialists, Specialist, fields, **history)

        practices = [*self.new_practices, *self.changed_practices.values()]
        self.importer.load_zip_rows({practice.zip_code for practice in practices})
        for practice in practices:  # as Practice.save() does
            if practice.coordinates_source in ("", CoordinatesSource.ZIP_CENTROID) or practice.is_outside_us:
                practice.place_at_centroid(self.importer.zip_rows.get(practice.zip_code))
        insert_with_history(Practice, self.new_practices, default_user=user)
        if self.changed_practices:
            fields = [*sorted(self.practice_fields), "latitude", "longitude", "coordinates_source"]
            bulk_update_with_history(list(self.changed_practices.values()), Practice, fields, **history)

        for chunk in chunked(self.gone_affiliations):
            Affiliation.objects.filter(pk__in=[affiliation.pk for affiliation in chunk]).delete()
        for chunk in chunked(self.primary_affiliations):
            Affiliation.objects.filter(specialist_id__in=[a.specialist_id for a in chunk]).update(is_primary=False)
            Affiliation.objects.filter(pk__in=[a.pk for a in chunk]).update(is_primary=True)
        insert_rows(
            Affiliation,
            ["specialist_id", "practice_id", "is_primary"],
            [(a.specialist.pk, a.practice.pk, a.is_primary) for a in self.new_affiliations],
        )

        for gone in [*self.gone_trainings, *self.gone_volumes]:  # rare (CLEAR, a changed list): one by one
            if user is not None:
                gone._history_user = user
            gone.delete()
        insert_planned(Training, self.new_trainings, default_user=user)
        insert_planned(ProcedureVolume, self.new_volumes, default_user=user)
        if self.changed_volumes:
            fields = ["count", "is_suppressed", "verified"]
            bulk_update_with_history(self.changed_volumes, ProcedureVolume, fields, **history)
        self.write_insurance()

        touched = {specialist.pk for specialist in self.touched}
        changed_practices = [practice.pk for practice in self.changed_practices.values()]
        for chunk in chunked(changed_practices):  # their other specialists' addresses changed too
            touched.update(Affiliation.objects.filter(practice_id__in=chunk).values_list("specialist_id", flat=True))
        specialists_touched(touched)


def insert_planned(model, planned: list, *, default_user):
    """Insert new rows planned as (specialist, row of row_type(model), reason), with their history: the
    specialist's id is known only now (a new specialist is written first)."""
    fields = list(row_type(model)._fields)
    pk_at, specialist_at = fields.index(model._meta.pk.attname), fields.index("specialist_id")
    rows = []
    for specialist, row, _ in planned:
        values = list(row)
        values[specialist_at] = specialist.pk
        del values[pk_at]
        rows.append(values)
    del fields[pk_at]
    reasons = [reason for _, _, reason in planned]
    insert_rows_with_history(model, fields, rows, reasons=reasons, default_user=default_user)


def differs(specialist, name, value) -> bool:
    current = getattr(specialist, name)
    if name == "languages":  # "English;Spanish" as stored is the same list as "English; Spanish"
        return split_list(current) != split_list(value)
    return current != value


def shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def verified_text(specialist) -> str:
    return f"yes ({specialist.verified_at:%Y-%m-%d})" if specialist.verified_at else "no"


def trainings_text(pairs) -> str:
    """Return (course, year) pairs as their CSV cell."""
    return "; ".join(f"{course} ({year})" if year else course for course, year in pairs)


@cache
def row_type(model):
    """The named tuple of a model's concrete fields (attribute names: specialist_id), with pk as on the model."""
    attnames = [field.attname for field in model._meta.concrete_fields]
    base = namedtuple(f"{model.__name__}Row", attnames)
    pk = attnames.index(model._meta.pk.attname)
    return type(base.__name__, (base,), {"__slots__": (), "pk": property(lambda row: row[pk])})


@cache
def new_row(model):
    """A row of row_type(model) holding a new object's defaults, for _replace() with its values."""
    template = model()
    return row_type(model)._make(getattr(template, name) for name in row_type(model)._fields)


def rows_on_file(queryset):
    """Return the queryset's objects as rows of row_type(model): their fields read as an instance's do, at a
    fraction of the cost of building model instances (editable() makes an instance of one that changes)."""
    model = queryset.model
    row = row_type(model)
    return [row._make(values) for values in queryset.values_list(*row._fields)]


def editable(model, on_file) -> Model:
    """Return a model instance to change or delete: a copy of an instance, or one built from a row on file."""
    if isinstance(on_file, Model):
        return copy.copy(on_file)
    return model.from_db(DEFAULT_DB_ALIAS, on_file._fields, on_file)


parse_specialty = partial(parse_choice, choices=Specialty)
parse_volume_source = partial(parse_choice, choices=VolumeSource)


def parse_npi(raw) -> str:
    if not raw:
        raise ValueError("required: rows are matched to specialists by NPI.")
    validate_npi(raw)
    return raw


def parse_trainings(raw) -> list[tuple[str, int | None]]:
    """Return (course, year) pairs of "Course (2023); Other course" (the year is optional)."""
    last_year = timezone.localdate().year + 1  # a course booked for next year may be listed
    trainings = []
    for item in split_list(raw):
        match = TRAINING_PATTERN.fullmatch(item)
        if match is None:
            trainings.append((item, None))
            continue
        try:
            year = parse_year(match["year"], first=FIRST_TRAINING_YEAR, last=last_year)
        except ValueError as error:
            raise ValueError(f"“{item}”: {error}") from None
        trainings.append((match["course"], year))
    for course, _ in trainings:
        if len(course) > Training._meta.get_field("course").max_length:
            raise ValueError(f"the course name “{course[:40]}…” is longer than 200 characters.")
    return trainings


# --- Insurance ---------------------------------------------------------------------------------------

INSURANCE_COLUMNS = {"insurance", "insurance_confirmed"}
NO_INSURANCE = "none"  # the office confirmed it accepts none of the listed insurance (not the same as blank)


class _InsuranceOnFile:
    """The curated insurance list, and each practice's list and date as the import goes (loaded once)."""

    def __init__(self):
        self._entries = None
        self._of = {}  # id(practice) -> ([Insurance], confirmed on)

    @property
    def entries(self) -> list[Insurance]:
        if self._entries is None:
            self._entries = list(Insurance.objects.all())
        return self._entries

    def load(self, practices_by_pk: dict):
        by_pk = {entry.pk: entry for entry in self.entries}
        listed = {pk: [] for pk in practices_by_pk}
        through = Practice.insurance.through
        for lookup in among(through, "practice", practices_by_pk):
            for practice_id, insurance_id in through.objects.filter(**lookup).values_list(
                "practice_id", "insurance_id"
            ):
                listed[practice_id].append(by_pk[insurance_id])
        for pk, practice in practices_by_pk.items():
            self.remember(practice, listed[pk], practice.insurance_confirmed_on)

    def remember(self, practice, plans, confirmed_on):
        self._of[id(practice)] = (in_list_order(plans), confirmed_on)

    def get(self, practice) -> tuple | None:
        if practice is None:
            return None
        return self._of.get(id(practice), ([], practice.insurance_confirmed_on) if practice.pk is None else None)

    def parse(self, raw: str) -> list[Insurance]:
        """Return the entries named in "Medicare; aetna" (codes or names, any case); "none" is the empty list."""
        if raw.strip().lower() == NO_INSURANCE:
            return []
        lookup = {}
        for entry in self.entries:
            lookup[entry.code.lower()] = lookup[entry.name.lower()] = entry
        items = split_list(raw)
        if NO_INSURANCE in {item.lower() for item in items}:
            raise ValueError(f"{NO_INSURANCE} cannot be listed with other insurance.")
        unknown = [item for item in items if item.lower() not in lookup]
        if unknown:
            codes = ", ".join(entry.code for entry in self.entries)
            raise ValueError(
                f"unknown insurance {', '.join(f'“{item}”' for item in unknown)}: use the codes or names of the "
                f"curated list ({codes}), or {NO_INSURANCE}."
            )
        return in_list_order({lookup[item.lower()] for item in items})


def in_list_order(plans) -> list[Insurance]:
    return sorted(plans, key=lambda entry: (entry.position, entry.name))


def parse_confirmed_on(raw):
    confirmed_on = parse_date(raw)
    if confirmed_on > timezone.localdate():
        raise ValueError(f"{confirmed_on:%Y-%m-%d} is in the future: write the day the office confirmed it.")
    return confirmed_on


def insurance_text(plans, confirmed_on) -> str:
    """Return a practice's insurance as its CSV cell: codes, "none" (confirmed, none listed), or "" (not known)."""
    if confirmed_on is None and not plans:
        return ""
    return "; ".join(entry.code for entry in plans) or NO_INSURANCE


# Constraint checks the importer does not repeat in Python, as a sentence for the person who wrote the file.
CONSTRAINT_SENTENCES = {
    "training_year_range": f"A training year must be between {FIRST_TRAINING_YEAR} and 2100.",
    "volume_period_ordered": "The period cannot end before it starts.",
    "volume_count_not_negative": "Counts are 0 or more.",
}


def plain_message(message: str) -> str:
    """Return a validation message without the names of database constraints."""
    for name, sentence in CONSTRAINT_SENTENCES.items():
        if name in message:
            return sentence
    return message


def column_names(changes) -> list[str]:
    """Return the changed fields as the CSV's column names, without repeats."""
    names = {"is_published": "published", "trainings": "si_training", "practice": "practice"}
    return list(dict.fromkeys(names.get(change, change) for change in changes))


# --- Writing the same format ------------------------------------------------------------------------


def profiles_for_export(queryset):
    """Return `queryset` with everything write_profiles_csv() reads prefetched (no N+1)."""
    return (
        queryset.exclude(npi__isnull=True)
        .prefetch_related(None)
        .prefetch_related(
            Prefetch("affiliation_set", queryset=Affiliation.objects.select_related("practice").primary_first()),
            "affiliation_set__practice__insurance",
            "trainings",
            "volumes",
        )
    )


def write_profiles_csv(specialists, file) -> int:
    """Write the profiles CSV of `specialists` (use profiles_for_export) to `file`; return the row count.

    Specialists without an NPI cannot be matched on import, so profiles_for_export leaves them out. Cells a
    spreadsheet would run as a formula get a leading apostrophe, which the import takes off again.
    """
    writer = csv.writer(file)
    writer.writerow(COLUMNS)
    written = 0
    for specialist in specialists:
        row = profile_row(specialist)
        writer.writerow([neutralise_cell(row.get(column, "")) for column in COLUMNS])
        written += 1
    return written


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def profile_row(specialist) -> dict:
    """Return one specialist as a dict of CSV cells."""
    row = {
        "npi": specialist.npi,
        "first_name": specialist.first_name,
        "last_name": specialist.last_name,
        "credentials": specialist.credentials,
        "specialty": specialist.specialty,
        "website": specialist.website,
        "languages": "; ".join(specialist.language_list),
        "verified": yes_no(specialist.verified_at is not None),
        "published": yes_no(specialist.is_published),
        "si_training": "; ".join(
            f"{training.course} ({training.year})" if training.year else training.course
            for training in specialist.trainings.all()
        ),
    }
    for column in BOOLEAN_COLUMNS:
        row[column] = yes_no(getattr(specialist, column))
    affiliations = specialist.affiliation_set.all()
    if affiliations:
        practice = affiliations[0].practice
        row.update({column: getattr(practice, field_name) for column, field_name in PRACTICE_COLUMNS.items()})
        confirmed_on = practice.insurance_confirmed_on
        row["insurance"] = insurance_text(in_list_order(practice.insurance.all()), confirmed_on)
        row["insurance_confirmed"] = confirmed_on.isoformat() if confirmed_on else ""
    period = latest_volume_period(specialist.volumes.all())
    if period is not None:
        start, end, source = period
        row.update(volume_period_start=start.isoformat(), volume_period_end=end.isoformat(), volume_source=source)
        counts = {
            volume.procedure: volume.count
            for volume in specialist.volumes.all()
            if (volume.period_start, volume.period_end, volume.source) == period and volume.count is not None
        }
        for column, procedure in COUNT_COLUMNS.items():
            row[column] = counts.get(procedure, "")
    return row


def latest_volume_period(volumes):
    """Return the (start, end, source) of the most recent counts: the one period a CSV row can carry."""
    periods = {(v.period_start, v.period_end, v.source) for v in volumes if v.count is not None}
    if not periods:
        return None
    return max(periods, key=lambda p: (p[1], p[0], -SOURCE_PREFERENCE.index(p[2])))
