"""What the CMS and NPPES imports share: matching NPIs, review-queue stubs, and source records."""

import functools
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from directory.importers import bulk
from directory.models import (
    US_STATES_AND_TERRITORIES,
    Affiliation,
    Practice,
    RecordSource,
    ReviewStatus,
    SourceRecord,
    Specialist,
    Specialty,
    ZipCode,
    normalize_zip,
    npi_check_digit,
)

LOOKUP_CHUNK = 2000


def npi_problem(npi: str) -> str | None:
    """Return why `npi` is not a valid NPI, or None (a fast twin of validate_npi for millions of rows)."""
    if len(npi) != 10 or not npi.isdigit():
        return f"NPI {npi!r} is not 10 digits"
    if npi_check_digit(npi[:9]) != int(npi[9]):
        return f"NPI {npi} has a wrong check digit"
    return None


def outside_us(country: str, state: str) -> str:
    """Return the country or region of an address outside the US and its territories ("CA", "QC"), or ""."""
    country = country.strip().upper()
    if country not in ("", "US"):
        return country
    state = state.strip().upper()
    return state if state and state not in US_STATES_AND_TERRITORIES else ""


def zip5(raw: str) -> str:
    """Return the ZIP5 of a 5- or 9-digit postal code; "" for a foreign or malformed one."""
    try:
        return normalize_zip(raw)
    except ValidationError:
        return ""


@dataclass
class Identity:
    """Who a source says an NPI is and where they practise."""

    npi: str
    first_name: str
    middle_name: str
    last_name: str
    credentials: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    zip_code: str
    phone: str = ""
    gender: str = ""
    specialty: str = Specialty.OTHER
    outside_us: str = ""  # why the address is not in the US ("Montreal, QC, CA"), or ""

    @property
    def address(self) -> str:
        street = ", ".join(part for part in (self.address_line1, self.address_line2) if part)
        return ", ".join(part for part in (street, self.city, f"{self.state} {self.zip_code}".strip()) if part)


IDENTITY_FIELDS = ["first_name", "middle_name", "last_name", "credentials", "gender"]
PRACTICE_FIELDS = ["address_line1", "address_line2", "city", "state", "zip_code", "phone"]


@functools.cache
def max_length(model, field_name: str) -> int:
    return model._meta.get_field(field_name).max_length


def fit(model, field_name: str, value: str) -> str:
    """Cut `value` to the column's max_length (public files hold a few over-long values)."""
    return value[: max_length(model, field_name)]


def find_by_npi(npis, *fields) -> dict[str, dict]:
    """Return {npi: {field: value}} for the specialists among `npis` (queried in chunks)."""
    npis = list(npis)
    found = {}
    for start in range(0, len(npis), LOOKUP_CHUNK):
        for row in Specialist.objects.filter(npi__in=npis[start : start + LOOKUP_CHUNK]).values("npi", *fields):
            found[row["npi"]] = row
    return found


def practice_name(identity: Identity, source: str) -> str:
    return fit(Practice, "name", f"{identity.first_name} {identity.last_name} (address from {source})")


def set_coordinates_from_zips(practices: list[Practice]) -> None:
    """Place practices at their ZIP centroids: the bulk twin of Practice.save()'s placing (none outside the US)."""
    centroids = ZipCode.objects.in_bulk({p.zip_code for p in practices if p.zip_code and not p.outside_us})
    for practice in practices:
        practice.place_at_centroid(None if practice.outside_us else centroids.get(practice.zip_code))


def centroids_by_zip(zip_codes) -> dict[str, tuple]:
    """Return {zip: (latitude, longitude, coordinates_source)} as Practice.place_at_centroid would set them."""
    found = ZipCode.objects.in_bulk({code for code in zip_codes if code})
    placed = {}
    for code in set(zip_codes):
        practice = Practice()
        practice.place_at_centroid(found.get(code))
        placed[code] = (practice.latitude, practice.longitude, practice.coordinates_source)
    return placed


STUB_FIELDS = [
    *IDENTITY_FIELDS,
    "npi",
    "specialty",
    "is_published",
    "review_status",
    "record_source",
    "unpublished_reason",
]
UNPLACED = (None, None, "")


def outside_us_reason(identity: Identity) -> str:
    """Return why a stub outside the US is not searchable ("" for a US address)."""
    if not identity.outside_us:
        return ""
    where = ", ".join(part for part in (identity.city, identity.state, identity.outside_us) if part)
    return fit(Specialist, "unpublished_reason", f"Practice address outside the US ({where}): kept out of the search")


def create_stubs(identities: list[Identity], record_source: RecordSource) -> dict[str, int]:
    """Create unpublished, pending specialists with a practice at their address; return {npi: id}.

    Rows go to the database as plain tuples (bulk.insert_rows): building model instances for tens of
    thousands of stubs cost more than reading the file.
    """
    if not identities:
        return {}
    specialist_ids = bulk.insert_rows(
        Specialist,
        STUB_FIELDS,
        [
            (
                *(fit(Specialist, name, getattr(identity, name)) for name in IDENTITY_FIELDS),
                identity.npi,
                identity.specialty,
                False,
                ReviewStatus.PENDING.value,
                RecordSource(record_source).value,
                outside_us_reason(identity),
            )
            for identity in identities
        ],
        with_ids=True,
    )
    label = RecordSource(record_source).label.removesuffix(" import")
    centroids = centroids_by_zip([identity.zip_code for identity in identities])
    practice_ids = bulk.insert_rows(
        Practice,
        ["name", *PRACTICE_FIELDS, "latitude", "longitude", "coordinates_source", "outside_us"],
        [
            (
                practice_name(identity, label),
                *(fit(Practice, name, getattr(identity, name)) for name in PRACTICE_FIELDS),
                *(UNPLACED if identity.outside_us else centroids[identity.zip_code]),
                bool(identity.outside_us),
            )
            for identity in identities
        ],
        with_ids=True,
    )
    bulk.insert_rows(
        Affiliation,
        ["specialist", "practice", "is_primary"],
        [(sid, pid, True) for sid, pid in zip(specialist_ids, practice_ids, strict=True)],
    )
    return {identity.npi: pk for identity, pk in zip(identities, specialist_ids, strict=True)}


def save_source_records(source: RecordSource, data_by_specialist: dict[int, dict]) -> None:
    """Store what `source` said about each specialist, replacing its previous record."""
    now = timezone.now()
    bulk.upsert_rows(
        SourceRecord,
        ["specialist", "source", "data", "imported_at"],
        [(specialist_id, RecordSource(source).value, data, now) for specialist_id, data in data_by_specialist.items()],
        unique_fields=["specialist", "source"],
        update_fields=["data", "imported_at"],
    )
