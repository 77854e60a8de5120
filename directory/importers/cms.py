"""Import CMS "Medicare Physician & Other Practitioners — by Provider and Service" procedure counts.

One row of the file is one rendering NPI × HCPCS code × place of service for one calendar year. We keep the
SI-joint and lumbar-fusion code families (PROCEDURE_CODES), individual providers only, and sum services and
beneficiaries per NPI × family across places of service and the codes of the family. The counts cover
Medicare fee-for-service (Part B) patients only, and CMS leaves out every row with fewer than 11
beneficiaries: a missing row means "not in Medicare data", never zero, so nothing is written for it.
"""

import datetime
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as compute
from django.db import transaction

from directory.importers import bulk
from directory.importers.locks import import_lock
from directory.importers.names import case_address, case_name
from directory.importers.rows import MAX_COUNT, finite_number
from directory.importers.streaming import ImportFileError, Rejections, open_columns, reject
from directory.importers.stubs import (
    Identity,
    create_stubs,
    find_by_npi,
    npi_problem,
    outside_us,
    save_source_records,
    zip5,
)
from directory.models import (
    PROCEDURE_BY_CODE,
    PROCEDURE_CODES,
    Procedure,
    ProcedureVolume,
    RecordSource,
    ReviewStatus,
    SourceRecord,
    VolumeSource,
    batch_changes,
    specialists_touched,
)
from directory.taxonomy import specialty_for_provider_type

COLUMNS = {
    "npi": ("Rndrng_NPI",),
    "last_name": ("Rndrng_Prvdr_Last_Org_Name",),
    "first_name": ("Rndrng_Prvdr_First_Name",),
    "middle_name": ("Rndrng_Prvdr_MI",),
    "credentials": ("Rndrng_Prvdr_Crdntls",),
    "entity": ("Rndrng_Prvdr_Ent_Cd",),
    "street1": ("Rndrng_Prvdr_St1",),
    "street2": ("Rndrng_Prvdr_St2",),
    "city": ("Rndrng_Prvdr_City",),
    "state": ("Rndrng_Prvdr_State_Abrvtn",),
    "zip": ("Rndrng_Prvdr_Zip5",),
    "country": ("Rndrng_Prvdr_Cntry",),
    "provider_type": ("Rndrng_Prvdr_Type",),
    "code": ("HCPCS_Cd",),
    "beneficiaries": ("Tot_Benes",),
    "services": ("Tot_Srvcs",),
}
# What a row says about its provider, in the order identity_from_row() and year_record() unpack it.
IDENTITY_COLUMNS = (
    "last_name",
    "first_name",
    "middle_name",
    "credentials",
    "street1",
    "street2",
    "city",
    "state",
    "zip",
    "country",
    "provider_type",
)
# Each provider's identity is kept as one string (tens of thousands of 10-tuples of strings cost ≈25 MB more).
SEPARATOR = "\x1f"  # ASCII unit separator: never part of a name or an address

# NPIs not yet in the directory enter the review queue only for SI-joint work, not for lumbar fusion alone.
STUB_PROCEDURES = {Procedure.MIS_SI_FUSION, Procedure.OPEN_SI_FUSION, Procedure.SI_INJECTION}


PROCEDURE_ORDER = {procedure: position for position, procedure in enumerate(Procedure)}
MEDICARE_NOTE = "Medicare fee-for-service (Part B) only; codes {codes}"
FIRST_DATA_YEAR = 2013  # the first year CMS published this file
WRITE_CHUNK = 2000  # providers written at a time: bounds the memory of the write, whatever the file
KEPT_CODES = pa.array(sorted(PROCEDURE_BY_CODE), type=pa.string())


def infer_year(path) -> int | None:
    """Return the data year a CMS file name states, or None.

    CMS names files like MUP_PHY_R24_P05_V10_D22_Prov_Svc.csv: "D22" is the data year (2022), "R24" the
    release year. Without a D-token, a single four-digit year in the name counts (…_Service_2022.csv).
    """
    name = Path(path).name
    if match := re.search(r"(?:^|[_\-. ])D(\d{2})(?=[_\-. ]|$)", name, re.IGNORECASE):
        return 2000 + int(match.group(1))
    years = set(re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", name))
    return int(years.pop()) if len(years) == 1 else None


def resolve_year(path, year: int | None) -> int:
    """Return the year to import: the one given, else the one in the file name; raise ImportFileError."""
    year = year or infer_year(path)
    if year is None:
        raise ImportFileError(
            f"Cannot tell the data year from the file name {Path(path).name!r}; pass --year (e.g. --year 2023)."
        )
    if not FIRST_DATA_YEAR <= year <= datetime.date.today().year:
        raise ImportFileError(f"{year} is not a year CMS has data for ({FIRST_DATA_YEAR}–last year).")
    return year


@dataclass
class CmsImportResult:
    year: int
    rows_read: int = 0
    rows_kept: int = 0
    organizations_skipped: int = 0
    rejections: Rejections = field(default_factory=Rejections)
    providers: int = 0
    matched: int = 0
    stubs_created: int = 0
    dismissed: int = 0
    not_in_directory: int = 0
    volumes_written: int = 0
    volumes_replaced: int = 0
    only_listed_npis: bool = False
    seconds: float = 0.0

    @property
    def rows_skipped(self) -> int:
        """Rows read but not used: other codes and organizations (read = kept + skipped + rejected)."""
        return self.rows_read - self.rows_kept - self.rejections.count

    def summary(self) -> list[str]:
        lines = [
            f"CMS Medicare {self.year}: read {self.rows_read:,} rows in {self.seconds:.1f} s: "
            f"kept {self.rows_kept:,} SI-joint / lumbar-fusion rows of individual providers, "
            f"skipped {self.rows_skipped:,} (other codes; skipped {self.organizations_skipped:,} organization rows), "
            f"rejected {self.rejections.count:,}.",
            f"{self.providers:,} providers: {self.matched:,} already in the directory, "
            f"{self.stubs_created:,} new in the review queue, {self.dismissed:,} dismissed (left as they are), "
            f"{self.not_in_directory:,} not in the directory with lumbar fusion or nerve blocks only (not added).",
            f"Wrote {self.volumes_written:,} procedure counts for {self.year} "
            f"(replacing {self.volumes_replaced:,} from an earlier import of that year"
            + (", for the NPIs in this file only)." if self.only_listed_npis else ")."),
        ]
        if self.rejections.count:
            lines.append(f"Rejected {self.rejections.count:,} malformed rows:")
            lines += self.rejections.lines()
        return lines


def import_cms(
    path,
    *,
    year: int | None = None,
    atomic: bool = False,
    progress: bool | None = None,
    replace_year: bool = False,
    only_listed_npis: bool = False,
):
    """Import one year of CMS by-provider-and-service counts, replacing that year's earlier import.

    A file that would remove more than half of the year's counts already imported is refused unless
    `replace_year` (it is the whole year) or `only_listed_npis` (it replaces the counts of its NPIs only).
    """
    started = time.perf_counter()
    result = CmsImportResult(year=resolve_year(path, year), only_listed_npis=only_listed_npis)
    with import_lock("CMS data"):
        totals, identities = read_totals(path, result, atomic=atomic, progress=progress)
        with transaction.atomic(), batch_changes():
            write_year(result, totals, identities, replace_year=replace_year)
    result.seconds = time.perf_counter() - started
    return result


def recognise_layout(header: list[str]) -> str | None:
    """Name an older CMS layout the import does not read, and where the same years are published readably."""
    names = {name.strip().lower() for field in header for name in field.split("\t")}
    same_years = (
        "CMS publishes every year from 2013 in the current layout, with Rndrng_ column names (Rndrng_NPI, "
        "HCPCS_Cd, Tot_Srvcs): download “Medicare Physician & Other Practitioners – by Provider and Service” for "
        "that year from data.cms.gov and import that file."
    )
    if {"npi", "hcpcs_code"} <= names or "line_srvc_cnt" in names or "bene_unique_cnt" in names:
        return (
            "This is the 2012–2017 CMS layout (the tab-delimited .txt “Physician and Other Supplier” file, with "
            f"lower-case column names such as npi and line_srvc_cnt), which this import does not read. {same_years}"
        )
    if {"number of services", "national provider identifier"} & names:
        return (
            "This is a data.cms.gov export with column titles (“National Provider Identifier”, “Number of "
            f"Services”) instead of the file's column names, which this import does not read. {same_years}"
        )
    return None


def read_totals(path, result: CmsImportResult, *, atomic: bool, progress: bool | None):
    """Stream the file; return {(npi, procedure): [services, beneficiaries, codes]} and {npi: packed identity}.

    Arrow picks the rows of the kept codes; only those (≈2% of a national file) become Python values. Memory
    grows with the number of providers doing these procedures (tens of thousands), not with the file.
    """
    totals: dict[tuple[str, str], list] = {}
    identities: dict[str, str] = {}
    keys = ("code", "entity", "npi", "services", "beneficiaries", *IDENTITY_COLUMNS)
    with open_columns(
        path, COLUMNS, description=f"CMS {result.year}", progress=progress, recognise=recognise_layout
    ) as stream:
        for number, row in stream.rows(
            keys,
            where=lambda columns: compute.is_in(columns["code"], value_set=KEPT_CODES),
            on_malformed=lambda number, reason: reject(result, number, reason, atomic),
        ):
            code, entity, npi, services, beneficiaries = row[:5]
            if entity != "I":
                result.organizations_skipped += 1
                continue
            npi = npi.strip()
            try:
                # An NPI with an identity passed this check on an earlier row: it repeats across codes and places.
                if npi not in identities and (problem := npi_problem(npi)):
                    raise ValueError(problem)
                services, beneficiaries = read_counts(services, beneficiaries)
            except ValueError as error:
                reject(result, number, f"{code} for {npi}: {error}", atomic)
                continue
            result.rows_kept += 1
            procedure = PROCEDURE_BY_CODE[code]
            total = totals.get((npi, procedure))
            if total is None:
                totals[(npi, procedure)] = [services, beneficiaries, (code,)]
            else:
                total[0] += services
                total[1] += beneficiaries
                if code not in total[2]:
                    total[2] += (code,)
            if npi not in identities:
                identities[npi] = SEPARATOR.join(value.replace(SEPARATOR, " ") for value in row[5:])
        result.rows_read = stream.rows_read
    return totals, identities


def read_counts(services: str, beneficiaries: str) -> tuple[float, int]:
    """Return (Tot_Srvcs, Tot_Benes) of a row; raise ValueError naming the column for nan, inf, 1e400, -1, 10**20."""
    try:
        services_value = finite_number(services)
    except ValueError:
        raise ValueError(f"Tot_Srvcs “{services.strip()}” is not a number") from None
    try:
        beneficiaries_value = int(beneficiaries.replace(",", "").strip())
    except ValueError:
        raise ValueError(f"Tot_Benes “{beneficiaries.strip()}” is not a whole number") from None
    for column, raw, value in (
        ("Tot_Srvcs", services, services_value),
        ("Tot_Benes", beneficiaries, beneficiaries_value),
    ):
        if value < 0:
            raise ValueError(f"{column} “{raw.strip()}” is negative")
        if value > MAX_COUNT:
            raise ValueError(f"{column} “{raw.strip()}” is larger than a count can be (over {MAX_COUNT:,})")
    return services_value, beneficiaries_value


def identity_from_row(npi: str, packed: str) -> Identity:
    last, first, middle, credentials, street1, street2, city, state, zip_code, country, provider_type = packed.split(
        SEPARATOR
    )
    state = state.strip().upper()
    return Identity(
        npi=npi,
        first_name=case_name(first),
        middle_name=case_name(middle),
        last_name=case_name(last),
        credentials=credentials.strip(),
        address_line1=case_address(street1),
        address_line2=case_address(street2),
        city=case_address(city),
        state=state[:2],
        zip_code=zip5(zip_code),
        specialty=specialty_for_provider_type(provider_type),
        outside_us=outside_us(country, state),
    )


def write_year(result: CmsImportResult, totals: dict, identities: dict, *, replace_year: bool = False) -> None:
    """Replace the year's CMS counts and source records; queue stubs for new NPIs doing SI-joint work.

    With result.only_listed_npis, only the counts and records of the NPIs in the file are replaced.
    """
    year = result.year
    period = {"period_start": datetime.date(year, 1, 1), "period_end": datetime.date(year, 12, 31)}
    period_values = (period["period_start"], period["period_end"])
    replaced = ProcedureVolume.objects.filter(source=VolumeSource.CMS_MEDICARE, **period)
    listed = {npi for npi, _ in totals}
    on_file = list(replaced.values_list("specialist_id", "specialist__npi", "procedure"))
    if result.only_listed_npis:
        ids_of_listed = {specialist_id for specialist_id, npi, _ in on_file if npi in listed}
        replaced = replaced.filter(specialist_id__in=ids_of_listed)
    elif not replace_year:
        refuse_removing_most(result, on_file, totals)
    touched = set(replaced.values_list("specialist_id", flat=True))  # their counts change: so do their rankings
    result.volumes_replaced = bulk.delete(replaced)
    year_key = str(year)
    stale = SourceRecord.objects.filter(source=RecordSource.CMS_MEDICARE, data__years__has_key=year_key)
    if result.only_listed_npis:
        stale = stale.filter(specialist__npi__in=listed)
    stale_records = set(stale.values_list("specialist_id", flat=True))
    by_npi: dict[str, list] = {}
    for (npi, procedure), total in totals.items():
        by_npi.setdefault(npi, []).append((procedure, total))
    totals.clear()  # by_npi holds the same totals: free the (npi, procedure) keys before writing
    npis = sorted(by_npi)
    result.providers = len(npis)
    for start in range(0, len(npis), WRITE_CHUNK):
        chunk = npis[start : start + WRITE_CHUNK]
        existing = find_by_npi(chunk, "id", "review_status")
        new = [
            identity_from_row(npi, identities[npi])
            for npi in chunk
            if npi not in existing and any(procedure in STUB_PROCEDURES for procedure, _ in by_npi[npi])
        ]
        created = create_stubs(new, RecordSource.CMS_MEDICARE)
        result.stubs_created += len(created)
        ids = {npi: row["id"] for npi, row in existing.items()} | created
        dismissed = {row["id"] for row in existing.values() if row["review_status"] == ReviewStatus.DISMISSED}
        result.dismissed += len(dismissed)
        result.matched += len(existing) - len(dismissed)
        result.not_in_directory += len(chunk) - len(ids)

        volumes = [
            (
                ids[npi],
                str(procedure),  # the value, not the enum member, for COPY
                round(services),
                beneficiaries,
                MEDICARE_NOTE.format(codes=", ".join(sorted(codes, key=PROCEDURE_CODES[procedure].index))),
            )
            for npi in chunk
            if npi in ids and ids[npi] not in dismissed  # dismissed NPIs keep only their source record
            for procedure, (services, beneficiaries, codes) in by_npi[npi]
        ]
        bulk.insert_rows(
            ProcedureVolume,
            ["specialist", "procedure", "count", "beneficiaries", "notes", "source", "period_start", "period_end"],
            [(*volume, VolumeSource.CMS_MEDICARE.value, *period_values) for volume in volumes],
        )
        result.volumes_written += len(volumes)
        touched.update(volume[0] for volume in volumes)

        said = {ids[npi]: year_record(identities[npi], by_npi[npi]) for npi in chunk if npi in ids}
        stale_records -= said.keys()
        merge_source_records(year_key, said)
    merge_source_records(year_key, dict.fromkeys(stale_records))  # NPIs gone from this year's file
    specialists_touched(touched)


def refuse_removing_most(result: CmsImportResult, on_file: list, totals: dict) -> None:
    """Raise ImportFileError when the file would remove more than half of the year's counts on file."""
    present = {(npi, str(procedure)) for npi, procedure in totals}  # str: an enum member hashes by its name
    gone = sum(1 for _, npi, procedure in on_file if (npi, procedure) not in present)
    if on_file and gone * 2 > len(on_file):
        raise ImportFileError(
            f"This file would remove {gone:,} of the {len(on_file):,} CMS counts of {result.year} already imported "
            f"(their NPIs and procedures are not in it), so nothing was changed. If it is the whole year's file, "
            "import it again with --replace-year; to apply it only to the NPIs it lists, use --only-listed-npis."
        )


def year_record(packed: str, procedures: list) -> dict:
    """Return what the file said about one NPI for one year, for its SourceRecord."""
    last, first, middle, credentials, street1, street2, city, state, zip_code, country, provider_type = packed.split(
        SEPARATOR
    )
    return {
        "name": " ".join(part for part in (first, middle, last) if part),
        "credentials": credentials,
        "provider_type": provider_type,
        "address": ", ".join(
            part
            for part in (
                street1,
                street2,
                city,
                f"{state} {zip_code}".strip(),
                "" if country in ("", "US") else country,
            )
            if part
        ),
        "procedures": {
            procedure: {"services": round(services), "beneficiaries": beneficiaries, "codes": sorted(codes)}
            for procedure, (services, beneficiaries, codes) in sorted(procedures, key=lambda p: PROCEDURE_ORDER[p[0]])
        },
    }


def merge_source_records(year_key: str, said: dict[int, dict | None]) -> None:
    """Set (or, for None, remove) one year in each specialist's CMS source record, keeping the other years."""
    ids = list(said)
    for start in range(0, len(ids), WRITE_CHUNK):
        chunk = ids[start : start + WRITE_CHUNK]
        current = dict(
            SourceRecord.objects.filter(specialist_id__in=chunk, source=RecordSource.CMS_MEDICARE).values_list(
                "specialist_id", "data"
            )
        )
        records = {}
        for specialist_id in chunk:
            years = dict(current.get(specialist_id, {}).get("years", {}))
            if said[specialist_id] is None:
                years.pop(year_key, None)
            else:
                years[year_key] = said[specialist_id]
            records[specialist_id] = {"years": years}  # readers sort: PostgreSQL's jsonb keeps no key order
        save_source_records(RecordSource.CMS_MEDICARE, records)
