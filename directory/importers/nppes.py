"""Import NPPES NPI records (the monthly full file npidata_pfile_….csv, or a weekly update in the same layout).

We keep individual providers (entity type 1) with a relevant taxonomy in any of the 15 slots, match them to
the directory by NPI, fill identity fields curators have not edited, queue new NPIs for review, and
unpublish profiles whose NPI has been deactivated.
"""

import datetime
import functools
import time
from dataclasses import dataclass, field
from operator import itemgetter

import pyarrow as pa
import pyarrow.compute as compute
from django.db import transaction
from django.db.models import Count

from directory.importers import bulk
from directory.importers.locks import import_lock
from directory.importers.names import case_address, case_name
from directory.importers.rows import parse_phone
from directory.importers.streaming import Rejections, open_columns, reject
from directory.importers.stubs import (
    IDENTITY_FIELDS,
    PRACTICE_FIELDS,
    Identity,
    create_stubs,
    find_by_npi,
    fit,
    npi_problem,
    outside_us,
    practice_name,
    save_source_records,
    set_coordinates_from_zips,
    zip5,
)
from directory.models import (
    Affiliation,
    CoordinatesSource,
    Practice,
    RecordSource,
    ReviewStatus,
    Specialist,
    Specialty,
    batch_changes,
    specialists_touched,
)
from directory.taxonomy import TAXONOMIES

RELEVANT_TAXONOMIES = frozenset(TAXONOMIES)
RELEVANT = pa.array(sorted(TAXONOMIES), type=pa.string())

SLOTS = range(1, 16)
COLUMNS = {
    "npi": ("NPI",),
    "entity": ("Entity Type Code",),
    "last_name": ("Provider Last Name (Legal Name)",),
    "first_name": ("Provider First Name",),
    "middle_name": ("Provider Middle Name",),
    "credentials": ("Provider Credential Text",),
    "line1": ("Provider First Line Business Practice Location Address",),
    "line2": ("Provider Second Line Business Practice Location Address",),
    "city": ("Provider Business Practice Location Address City Name",),
    "state": ("Provider Business Practice Location Address State Name",),
    "zip": ("Provider Business Practice Location Address Postal Code",),
    "phone": ("Provider Business Practice Location Address Telephone Number",),
    "country": ("Provider Business Practice Location Address Country Code (If outside U.S.)",),
    "enumerated": ("Provider Enumeration Date",),
    "updated": ("Last Update Date",),
    "deactivation_reason": ("NPI Deactivation Reason Code",),
    "deactivated": ("NPI Deactivation Date",),
    "reactivated": ("NPI Reactivation Date",),
    "sex": ("Provider Sex Code", "Provider Gender Code"),  # renamed in 2024; older files use "Gender"
    **{f"taxonomy_{n}": (f"Healthcare Provider Taxonomy Code_{n}",) for n in SLOTS},
    **{f"primary_{n}": (f"Healthcare Provider Primary Taxonomy Switch_{n}",) for n in SLOTS},
}
DEACTIVATION_REASONS = {"DT": "death", "DB": "disbandment", "FR": "fraud", "OT": "other"}
DEACTIVATED_PREFIX = "NPPES: NPI deactivated"
BATCH_ROWS = 2000
UPDATED_FIELDS = [*IDENTITY_FIELDS, "specialty", "deactivated_on", "unpublished_reason"]


def parse_date(raw: str) -> datetime.date | None:
    """Return the date of an NPPES "MM/DD/YYYY" field (None when blank); raise ValueError when malformed."""
    raw = raw.strip()
    if not raw:
        return None
    if len(raw) == 10 and raw[2] == raw[5] == "/" and raw[:2].isdigit() and raw[3:5].isdigit() and raw[6:].isdigit():
        return datetime.date(int(raw[6:]), int(raw[:2]), int(raw[3:5]))  # strptime is slow; raises ValueError too
    return datetime.datetime.strptime(raw, "%m/%d/%Y").date()


def still_deactivated(deactivated: str, reactivated: str) -> bool:
    """Return whether an NPI with this deactivation date is still deactivated (not reactivated since)."""
    if not reactivated.strip():
        return True
    try:
        return parse_date(reactivated) < parse_date(deactivated)
    except ValueError:
        return True  # a malformed date is reported when the row is applied


def format_phone(raw: str) -> str:
    """Return the phone in the directory's one format (312-555-0100), or "" when it is not a phone number."""
    try:
        return parse_phone(raw) if raw.strip() else ""
    except ValueError:
        return ""  # the SourceRecord keeps what NPPES said


@dataclass
class NppesImportResult:
    rows_read: int = 0
    rows_kept: int = 0
    rejections: Rejections = field(default_factory=Rejections)
    updated: int = 0
    unchanged: int = 0
    stubs_created: int = 0
    dismissed: int = 0
    deactivated: int = 0
    reactivated: int = 0
    deactivation_rows: int = 0
    seconds: float = 0.0

    @property
    def rows_skipped(self) -> int:
        """Rows read but not used: organizations, other taxonomies (read = kept + skipped + rejected)."""
        return self.rows_read - self.rows_kept - self.deactivation_rows - self.rejections.count

    def summary(self) -> list[str]:
        lines = [
            f"NPPES: read {self.rows_read:,} rows in {self.seconds:.1f} s: kept {self.rows_kept:,} rows of individual "
            f"providers with an SI-joint-relevant taxonomy and {self.deactivation_rows:,} deactivations, skipped "
            f"{self.rows_skipped:,} (organizations, other taxonomies), rejected {self.rejections.count:,}.",
            f"Updated {self.updated:,} specialists, {self.unchanged:,} unchanged, {self.stubs_created:,} new in the "
            f"review queue, {self.dismissed:,} dismissed (left as they are).",
            f"Unpublished {self.deactivated:,} profiles whose NPI was deactivated; "
            f"{self.reactivated:,} NPIs were reactivated.",
        ]
        if self.rejections.count:
            lines.append(f"Rejected {self.rejections.count:,} malformed rows:")
            lines += self.rejections.lines()
        return lines


def import_nppes(path, *, atomic: bool = False, progress: bool | None = None, batch_rows: int = BATCH_ROWS):
    """Apply an NPPES full or weekly file to the directory, in one transaction."""
    started = time.perf_counter()
    result = NppesImportResult()
    with (
        import_lock("NPPES data"),
        transaction.atomic(),
        batch_changes(),
        open_columns(path, COLUMNS, description="NPPES", progress=progress, zip_member="npidata") as stream,
    ):
        col = {key: position for position, key in enumerate(COLUMNS)}  # rows below hold COLUMNS, in this order
        i_entity, i_deactivated, i_reactivated = col["entity"], col["deactivated"], col["reactivated"]
        taxonomies_of = itemgetter(*(col[f"taxonomy_{n}"] for n in SLOTS))
        kept, deactivated = [], []
        for number, row in stream.rows(
            tuple(COLUMNS),
            where=maybe_relevant,
            on_malformed=lambda number, reason: reject(result, number, reason, atomic),
        ):
            # Deactivated NPIs appear with their dates only (no entity type): check them against the directory.
            if row[i_deactivated].strip() and still_deactivated(row[i_deactivated], row[i_reactivated]):
                deactivated.append((number, row))
                if len(deactivated) >= batch_rows:
                    apply_deactivations(deactivated, col, result, atomic)
                    deactivated = []
            elif row[i_entity] == "1" and not RELEVANT_TAXONOMIES.isdisjoint(taxonomies_of(row)):
                kept.append((number, row))
                if len(kept) >= batch_rows:
                    apply_providers(kept, col, result, atomic)
                    kept = []
        apply_providers(kept, col, result, atomic)
        apply_deactivations(deactivated, col, result, atomic)
        result.rows_read = stream.rows_read
    result.seconds = time.perf_counter() - started
    return result


def maybe_relevant(columns: dict):
    """Arrow's pre-selection of a batch: rows with a deactivation date, or individuals with a relevant taxonomy in
    any slot. The row-by-row checks in import_nppes() decide."""
    relevant = functools.reduce(
        compute.or_, (compute.is_in(columns[f"taxonomy_{n}"], value_set=RELEVANT) for n in SLOTS)
    )
    return compute.or_(
        compute.not_equal(columns["deactivated"], ""), compute.and_(compute.equal(columns["entity"], "1"), relevant)
    )


def read_provider(row: list[str], col: dict[str, int]) -> tuple[Identity, dict]:
    """Return the identity and the source-record data of one kept row; raise ValueError when malformed."""
    npi = row[col["npi"]].strip()
    if problem := npi_problem(npi):
        raise ValueError(problem)
    slots = [(row[col[f"taxonomy_{n}"]], row[col[f"primary_{n}"]] == "Y") for n in SLOTS if row[col[f"taxonomy_{n}"]]]
    relevant = [code for code, primary in sorted(slots, key=lambda slot: not slot[1]) if code in TAXONOMIES]
    sex = row[col["sex"]].strip().upper()
    state = row[col["state"]].strip().upper()
    abroad = outside_us(row[col["country"]], state)
    identity = Identity(
        npi=npi,
        first_name=case_name(row[col["first_name"]]),
        middle_name=case_name(row[col["middle_name"]]),
        last_name=case_name(row[col["last_name"]]),
        credentials=row[col["credentials"]].strip(),
        address_line1=case_address(row[col["line1"]]),
        address_line2=case_address(row[col["line2"]]),
        city=case_address(row[col["city"]]),
        state=state if len(state) == 2 else "",
        zip_code="" if abroad else zip5(row[col["zip"]]),
        phone="" if abroad else format_phone(row[col["phone"]]),
        gender=sex if sex in ("F", "M", "X") else "",
        specialty=TAXONOMIES[relevant[0]].specialty,
        outside_us=abroad,
    )
    data = {
        "name": " ".join(part for part in (identity.first_name, identity.middle_name, identity.last_name) if part),
        "taxonomies": [
            {"code": code, "label": TAXONOMIES[code].label if code in TAXONOMIES else "", "primary": primary}
            for code, primary in slots
        ],
        "address": identity.address,
        "phone": identity.phone or row[col["phone"]].strip(),
        **({"country": abroad} if abroad else {}),
        "credentials": identity.credentials,
        "enumerated_on": iso(parse_date(row[col["enumerated"]])),
        "last_updated_on": iso(parse_date(row[col["updated"]])),
        "reactivated_on": iso(parse_date(row[col["reactivated"]])),
    }
    return identity, data


def iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


def apply_providers(kept: list, col: dict, result: NppesImportResult, atomic: bool) -> None:
    """Upsert one batch of kept rows: update known specialists, queue new NPIs, record what NPPES said."""
    said: dict[str, tuple[Identity, dict]] = {}
    for row_number, row in kept:
        try:
            said[row[col["npi"]].strip()] = read_provider(row, col)  # a later row for an NPI wins
        except ValueError as error:
            reject(result, row_number, str(error), atomic)
        else:
            result.rows_kept += 1
    existing = find_by_npi(said, "id", "review_status", "curator_edited_fields", *UPDATED_FIELDS)
    created = create_stubs([said[npi][0] for npi in said if npi not in existing], RecordSource.NPPES)
    result.stubs_created += len(created)

    changed, changed_fields, pending_ids = [], set(), {}
    for npi, row in existing.items():
        if row["review_status"] == ReviewStatus.DISMISSED:  # stays dismissed: only its source record changes
            result.dismissed += 1
            continue
        identity = said[npi][0]
        # Every field any specialist of the batch may change, as it is now: the bulk update writes them all.
        specialist = Specialist(pk=row["id"], **{name: row[name] for name in UPDATED_FIELDS})
        fields = [
            name
            for name in IDENTITY_FIELDS
            if name not in row["curator_edited_fields"] and row[name] != fit(Specialist, name, getattr(identity, name))
        ]
        for name in fields:
            setattr(specialist, name, fit(Specialist, name, getattr(identity, name)))
        # A stub's specialty is the import's guess; the NPPES taxonomy is the better one (curators decide later).
        pending = row["review_status"] == ReviewStatus.PENDING
        guessed = identity.specialty != Specialty.OTHER and row["specialty"] != identity.specialty
        if pending and guessed and "specialty" not in row["curator_edited_fields"]:
            specialist.specialty = identity.specialty
            fields.append("specialty")
        if row["deactivated_on"]:  # the NPI is active again: say so, but leave publishing to a curator
            specialist.deactivated_on = None
            specialist.unpublished_reason = (
                fit(Specialist, "unpublished_reason", "NPPES: NPI reactivated; review before publishing again")
                if row["unpublished_reason"].startswith(DEACTIVATED_PREFIX)
                else row["unpublished_reason"]
            )
            fields += ["deactivated_on", "unpublished_reason"]
            result.reactivated += 1
        if fields:
            changed.append(specialist)
            changed_fields.update(fields)
            result.updated += 1
        else:
            result.unchanged += 1
        if pending and "practices" not in row["curator_edited_fields"]:
            pending_ids[row["id"]] = (identity, set(row["curator_edited_fields"]))
    bulk.update(Specialist, changed, sorted(changed_fields | {"updated_at"}))
    specialists_touched(specialist.pk for specialist in changed)
    update_stub_practices(pending_ids)

    ids = {npi: row["id"] for npi, row in existing.items()} | created
    save_source_records(RecordSource.NPPES, {ids[npi]: data for npi, (_, data) in said.items()})


def update_stub_practices(stubs: dict[int, tuple[Identity, set]]) -> None:
    """Move pending stubs' own practice (primary, shared with nobody) to the address NPPES now gives.

    Practice fields a curator edited (listed in the specialist's curator_edited_fields) are kept.
    """
    if not stubs:
        return
    affiliations = (
        Affiliation.objects.filter(specialist_id__in=stubs, is_primary=True)
        .annotate(sharing=Count("practice__affiliation"))
        .filter(sharing=1)
        .select_related("practice")
    )
    changed = []
    for affiliation in affiliations:
        practice, (identity, edited) = affiliation.practice, stubs[affiliation.specialist_id]
        new = {name: fit(Practice, name, getattr(identity, name)) for name in PRACTICE_FIELDS if name not in edited}
        new["outside_us"] = bool(identity.outside_us)
        if any(getattr(practice, name) != value for name, value in new.items()):
            for name, value in new.items():
                setattr(practice, name, value)
            if "name" not in edited:
                practice.name = practice_name(identity, "NPPES")
            changed.append(practice)
    set_coordinates_from_zips([p for p in changed if p.coordinates_source in ("", CoordinatesSource.ZIP_CENTROID)])
    bulk.update(
        Practice,
        changed,
        ["name", *PRACTICE_FIELDS, "outside_us", "latitude", "longitude", "coordinates_source", "updated_at"],
    )


def apply_deactivations(rows: list, col: dict, result: NppesImportResult, atomic: bool) -> None:
    """Unpublish directory profiles whose NPI NPPES lists as deactivated (and not reactivated)."""
    dates = {}
    for row_number, row in rows:
        npi = row[col["npi"]].strip()
        try:
            if problem := npi_problem(npi):
                raise ValueError(problem)
            dates[npi] = (parse_date(row[col["deactivated"]]), row[col["deactivation_reason"]])
        except ValueError as error:
            reject(result, row_number, f"NPI deactivation date: {error}", atomic)
        else:
            result.deactivation_rows += 1
    found = find_by_npi(dates, "id", "review_status", "deactivated_on")
    changed = []
    for npi, row in found.items():
        day, reason = dates[npi]
        if row["review_status"] == ReviewStatus.DISMISSED or row["deactivated_on"] == day:
            continue
        why = DEACTIVATION_REASONS.get(reason.strip().upper())
        text = f"{DEACTIVATED_PREFIX} on {day:%Y-%m-%d}" + (f" ({why})" if why else "")
        changed.append(Specialist(pk=row["id"], is_published=False, deactivated_on=day, unpublished_reason=text))
    bulk.update(Specialist, changed, ["is_published", "deactivated_on", "unpublished_reason", "updated_at"])
    specialists_touched(specialist.pk for specialist in changed)
    result.deactivated += len(changed)
