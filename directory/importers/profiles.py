"""The profiles CSV: one row per specialist, the format curators use for bulk work (docs/data-sources.md).

`import_profiles()` upserts specialists by NPI; `write_profiles_csv()` writes the same format, so that an
export imported again changes nothing.
"""

import csv
import re
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from directory.importers.rows import parse_bool, parse_choice, parse_count, parse_date, split_list
from directory.models import (
    SOURCE_PREFERENCE,
    Affiliation,
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
    validate_npi,
)

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
SERVICE_COLUMNS = [service.value for service in Service]
TEXT_COLUMNS = ["first_name", "last_name", "credentials", "website"]
BOOLEAN_COLUMNS = ["accepting_new_patients", "telehealth", *SERVICE_COLUMNS]
VOLUME_PERIOD_COLUMNS = ["volume_period_start", "volume_period_end", "volume_source"]
COLUMNS = [
    "npi",
    "first_name",
    "last_name",
    "credentials",
    "specialty",
    *PRACTICE_COLUMNS,
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
# A new specialist cannot be created without these.
NEW_SPECIALIST_COLUMNS = ["first_name", "last_name", "specialty"]
TRAINING_PATTERN = re.compile(r"(?P<course>.*?)\s*\((?P<year>[0-9]{4})\)")
CHANGE_REASON = "Profiles CSV import"
LISTED_CHANGES = 500  # created / updated rows listed on the admin's preview page (rejected rows are all listed)
TRAINING_COLUMN = {"course": "si_training", "year": "si_training", NON_FIELD_ERRORS: "si_training"}


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


@dataclass
class RowOutcome:
    row: int
    npi: str
    name: str
    action: str  # created, updated, unchanged or rejected
    changes: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


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
    def unlisted_changes(self) -> int:
        return max(0, self.created + self.updated - LISTED_CHANGES)

    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, rejected {self.rejected}"


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


def import_profiles(lines, *, dry_run=False, atomic=False, user=None, progress=None) -> ProfileImportResult:
    """Upsert one specialist per CSV row of `lines` (a text file or any iterable of lines), keyed by NPI.

    Bad rows are rejected with row, column and reason while good rows are written, each in its own
    savepoint; with `atomic`, one bad row rolls the whole file back. `dry_run` rolls everything back
    but reports the same. `user` is recorded as the verifier of rows marked verified.
    """
    reader = csv.reader(lines)
    result = ProfileImportResult(outcomes=[], dry_run=dry_run, atomic=atomic)
    first_row_of_npi = {}
    try:
        importer = _RowImporter(read_header(reader), user=user)
        with transaction.atomic():
            with batch_changes():
                for values in reader:
                    if not any(value.strip() for value in values):
                        continue
                    result.outcomes.append(importer.import_row(reader.line_num, values, first_row_of_npi))
                    if progress:
                        progress(1)
            if not result.written:
                transaction.set_rollback(True)
    except UnicodeDecodeError:
        raise ProfileFileError(f"Line {reader.line_num + 1} is not UTF-8 text; save the file as CSV UTF-8.") from None
    except csv.Error as error:
        raise ProfileFileError(f"Line {reader.line_num}: the file is not readable CSV ({error}).") from None
    return result


class _RowImporter:
    """Parse and write rows of one file (holds the header and a ZIP lookup cache)."""

    def __init__(self, columns, *, user=None):
        self.columns = columns
        self.present = set(columns)
        self.user = user
        self.zip_codes = {}
        self.now = timezone.now()

    def import_row(self, row_number, values, first_row_of_npi) -> RowOutcome:
        padded = [value.strip() for value in values] + [""] * (len(self.columns) - len(values))
        cells = dict(zip(self.columns, padded, strict=False))
        npi = cells.get("npi", "")
        name = " ".join(part for part in (cells.get("first_name", ""), cells.get("last_name", "")) if part)
        outcome = RowOutcome(row=row_number, npi=npi, name=name, action="rejected")
        try:
            if len(values) > len(self.columns):
                raise RowRejected([("", f"the row has {len(values)} values but the header names {len(self.columns)}.")])
            if npi in first_row_of_npi:
                raise RowRejected([("npi", f"NPI {npi} already appears on row {first_row_of_npi[npi]}.")])
            parsed = self.parse(cells)
            if npi:
                first_row_of_npi[npi] = row_number
            with transaction.atomic():  # a savepoint: a row is written whole or not at all
                outcome.action, outcome.changes = self.write(parsed)
        except RowRejected as rejected:
            outcome.errors = [RowError(row_number, column, reason) for column, reason in rejected.errors]
        except DatabaseError as error:
            outcome.errors = [RowError(row_number, "", f"the database refused the row: {error}")]
        return outcome

    # --- parsing: cells -> plain values, every problem reported with its column

    def parse(self, cells) -> dict:
        errors = []

        def attempt(column, parse):
            try:
                return parse(cells[column])
            except ValidationError as error:
                errors.append((column, " ".join(error.messages)))
            except ValueError as error:
                errors.append((column, str(error)))
            return None

        parsed = {"npi": attempt("npi", parse_npi), "specialist": {}}
        specialist = parsed["specialist"]
        for column in TEXT_COLUMNS:
            if column in cells:
                specialist[column] = cells[column]
        if "specialty" in cells:
            specialist["specialty"] = attempt("specialty", lambda raw: parse_choice(raw, Specialty))
        if "languages" in cells:
            specialist["languages"] = "; ".join(split_list(cells["languages"]))
        for column in BOOLEAN_COLUMNS:
            if column in cells:
                specialist[column] = attempt(column, parse_bool)
        if "published" in cells:
            specialist["is_published"] = attempt("published", parse_bool)
        parsed["verified"] = attempt("verified", parse_bool) if "verified" in cells else None
        parsed["practice"] = self.parse_practice(cells, attempt, errors)
        parsed["trainings"] = attempt("si_training", parse_trainings) if "si_training" in cells else None
        parsed["volumes"] = self.parse_volumes(cells, attempt, errors)
        if errors:
            raise RowRejected(errors)
        return parsed

    def parse_practice(self, cells, attempt, errors):
        practice = {field_name: cells[column] for column, field_name in PRACTICE_COLUMNS.items() if column in cells}
        if not any(practice.values()):
            return None  # no practice on this row: the specialist's practices stay as they are
        for column in ("practice_name", "zip"):
            if not cells.get(column):
                errors.append((column, "required when the row names a practice."))
        if cells.get("zip"):
            zip_code = attempt("zip", self.zip_code)
            if zip_code is not None:
                practice["zip_code"] = zip_code.code
                practice["city"] = practice.get("city") or zip_code.city
                practice["state"] = practice.get("state") or zip_code.state
        practice["state"] = practice.get("state", "").upper()
        return practice

    def parse_volumes(self, cells, attempt, errors):
        counts = {}
        for column, procedure in COUNT_COLUMNS.items():
            if column in cells:
                count = attempt(column, parse_count)
                if count is not None:
                    counts[procedure] = count
        if not counts:
            return None  # blank counts write nothing (never a 0)
        missing = [column for column in VOLUME_PERIOD_COLUMNS if not cells.get(column)]
        for column in missing:
            errors.append((column, "required when the row gives a count."))
        if missing:
            return None
        return {
            "period_start": attempt("volume_period_start", parse_date),
            "period_end": attempt("volume_period_end", parse_date),
            "source": attempt("volume_source", lambda raw: parse_choice(raw, VolumeSource)),
            "counts": counts,
        }

    def zip_code(self, raw) -> ZipCode:
        if raw not in self.zip_codes:
            try:
                self.zip_codes[raw] = ZipCode.objects.for_input(raw)
            except ValidationError as error:
                self.zip_codes[raw] = error
        found = self.zip_codes[raw]
        if isinstance(found, ValidationError):
            raise found
        return found

    # --- writing: plain values -> rows, inside the row's savepoint

    def write(self, parsed) -> tuple[str, list[str]]:
        npi = parsed["npi"]
        specialist = Specialist.objects.filter(npi=npi).first()
        created = specialist is None
        if created:
            missing = [column for column in NEW_SPECIALIST_COLUMNS if not parsed["specialist"].get(column)]
            if missing:
                raise RowRejected([(column, "required for a new specialist.") for column in missing])
            specialist = Specialist(npi=npi, record_source=RecordSource.PROFILE_IMPORT)
        changes = [name for name, value in parsed["specialist"].items() if differs(specialist, name, value)]
        for name in changes:
            setattr(specialist, name, parsed["specialist"][name])
        if parsed["verified"] is not None and parsed["verified"] != (specialist.verified_at is not None):
            specialist.verified_at, specialist.verified_by = (
                (self.now, self.user) if parsed["verified"] else (None, None)
            )
            changes.append("verified")
        if created or changes:
            save_validated(specialist, column_of={"is_published": "published"}, constraints=False)
        if parsed["practice"] is not None:
            changes += write_practice(specialist, parsed["practice"])
        if parsed["trainings"] is not None:
            changes += write_trainings(specialist, parsed["trainings"])
        if parsed["volumes"] is not None:
            changes += write_volumes(specialist, parsed["volumes"])
        if created:
            return "created", []
        return ("updated", column_names(changes)) if changes else ("unchanged", [])


def differs(specialist, name, value) -> bool:
    current = getattr(specialist, name)
    if name == "languages":  # "English;Spanish" as stored is the same list as "English; Spanish"
        return split_list(current) != split_list(value)
    return current != value


def parse_npi(raw) -> str:
    if not raw:
        raise ValueError("required: rows are matched to specialists by NPI.")
    validate_npi(raw)
    return raw


def parse_trainings(raw) -> list[tuple[str, int | None]]:
    """Return (course, year) pairs of "Course (2023); Other course" (the year is optional)."""
    trainings = []
    for item in split_list(raw):
        match = TRAINING_PATTERN.fullmatch(item)
        trainings.append((match["course"], int(match["year"])) if match else (item, None))
    return trainings


def save_validated(instance, *, column_of=None, constraints=True):
    """full_clean() and save `instance`, turning validation errors into a rejected row.

    `constraints=False` skips the database constraints' Python checks (one query each) where the importer
    has already established them (the row was looked up by its unique key); the database still enforces them.
    """
    try:
        instance.full_clean(exclude=["specialist"], validate_constraints=constraints)
    except ValidationError as error:
        column_of = {NON_FIELD_ERRORS: "", **(column_of or {})}
        raise RowRejected(
            [
                (column_of.get(name, name), message)
                for name, messages in error.message_dict.items()
                for message in messages
            ]
        ) from None
    instance._change_reason = CHANGE_REASON  # shown in the change history
    instance.save()


def column_names(changes) -> list[str]:
    """Return the changed fields as the CSV's column names, without repeats."""
    names = {"is_published": "published", "trainings": "si_training", "practice": "practice"}
    return list(dict.fromkeys(names.get(change, change) for change in changes))


def write_practice(specialist, values) -> list[str]:
    """Link the specialist to the row's practice (found by name, address and ZIP) as their primary one."""
    practice = (
        Practice.objects.filter(
            name=values["name"], address_line1=values.get("address_line1", ""), zip_code=values["zip_code"]
        )
        .order_by("id")
        .first()
    )
    changes = []
    practice_columns = {field_name: column for column, field_name in PRACTICE_COLUMNS.items()}
    if practice is None:
        practice = Practice(**values)
        changes.append("practice")
    else:
        changed = [name for name, value in values.items() if getattr(practice, name) != value]
        for name in changed:
            setattr(practice, name, values[name])
        changes += [practice_columns[name] for name in changed]
    if changes:
        save_validated(practice, column_of=practice_columns, constraints=False)

    affiliations = list(specialist.affiliation_set.order_by("-is_primary", "id"))
    current = affiliations[0] if affiliations else None
    if current is not None and current.practice_id == practice.pk:
        return changes
    # The row's practice becomes the primary one; the previous primary link is replaced.
    for affiliation in affiliations:
        if affiliation.practice_id == practice.pk:
            Affiliation.objects.filter(specialist=specialist).update(is_primary=False)
            affiliation.is_primary = True
            affiliation.save(update_fields=["is_primary"])
            return [*changes, "practice"]
    if current is not None and current.is_primary:
        current.delete()
    Affiliation.objects.create(specialist=specialist, practice=practice, is_primary=True)
    return [*changes, "practice"]


def write_trainings(specialist, wanted) -> list[str]:
    """Make the specialist's trainings exactly the row's (course, year) list; matching rows are kept."""
    existing = list(specialist.trainings.all())
    keep = []
    to_add = []
    for course, year in wanted:
        match = next((t for t in existing if (t.course, t.year) == (course, year) and t not in keep), None)
        if match is None:
            to_add.append((course, year))
        else:
            keep.append(match)
    stale = [training for training in existing if training not in keep]
    for training in stale:
        training._change_reason = CHANGE_REASON
        training.delete()
    for course, year in to_add:
        save_validated(Training(specialist=specialist, course=course, year=year), column_of=TRAINING_COLUMN)
    return ["trainings"] if stale or to_add else []


def write_volumes(specialist, volumes) -> list[str]:
    """Write one ProcedureVolume per non-blank count, for the row's period and source."""
    period = {
        "period_start": volumes["period_start"],
        "period_end": volumes["period_end"],
        "source": volumes["source"],
    }
    existing = {volume.procedure: volume for volume in specialist.volumes.filter(**period)}
    column_of_procedure = {procedure: column for column, procedure in COUNT_COLUMNS.items()}
    column_of = {"period_start": "volume_period_start", "period_end": "volume_period_end", "source": "volume_source"}
    changes = []
    for procedure, count in volumes["counts"].items():
        volume = existing.get(procedure)
        if volume is not None and volume.count == count and not volume.is_suppressed:
            continue
        if volume is None:
            volume = ProcedureVolume(specialist=specialist, procedure=procedure, **period)
        volume.count, volume.is_suppressed, volume.verified = count, False, False  # a new number is unverified
        save_validated(volume, column_of={**column_of, "count": column_of_procedure[procedure]}, constraints=False)
        changes.append(column_of_procedure[procedure])
    return changes


# --- Writing the same format ------------------------------------------------------------------------


def profiles_for_export(queryset):
    """Return `queryset` with everything write_profiles_csv() reads prefetched (no N+1)."""
    return (
        queryset.exclude(npi__isnull=True)
        .prefetch_related(None)
        .prefetch_related(
            Prefetch(
                "affiliation_set", queryset=Affiliation.objects.select_related("practice").order_by("-is_primary", "id")
            ),
            "trainings",
            "volumes",
        )
    )


def write_profiles_csv(specialists, file) -> int:
    """Write the profiles CSV of `specialists` (use profiles_for_export) to `file`; return the row count.

    Specialists without an NPI cannot be matched on import, so profiles_for_export leaves them out.
    """
    writer = csv.writer(file)
    writer.writerow(COLUMNS)
    written = 0
    for specialist in specialists:
        writer.writerow([profile_row(specialist).get(column, "") for column in COLUMNS])
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
