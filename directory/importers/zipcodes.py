"""Load every US ZIP from the offline `zipcodes` package, never at 0,0 and never outside the US.

The package gives 0,0 for about 870 ZIPs (military APO/FPO/DPO, PO-box-only and single-organisation ZIPs).
Those get no location of their own: a ZIP of a US city and state is placed at the centre of the other ZIPs
of that city and state and marked estimated; a military ZIP, or one with nothing to estimate from, stays
unlocated, and ZipCode.location_problem says why (ZipCode.objects.for_input refuses it with that sentence).
"""

from collections import defaultdict
from dataclasses import dataclass

import zipcodes

from directory import geo
from directory.models import MILITARY_STATES, US_STATES_AND_TERRITORIES, ZipKind

PACKAGE_KINDS = {"STANDARD": ZipKind.STANDARD, "PO BOX": ZipKind.PO_BOX, "UNIQUE": ZipKind.UNIQUE}
MILITARY_CITIES = ("APO", "FPO", "DPO")  # military post offices, also as PO boxes in a state ("Apo, NJ")
ZIP_FIELDS = ["city", "state", "kind", "is_active", "latitude", "longitude", "is_estimated"]


@dataclass
class ZipLoadResult:
    loaded: int
    kept_corrections: int
    estimated: int
    unlocated: int


def own_point(row) -> tuple[float, float] | None:
    """Return the package's centroid for this row, or None where it has none (0,0, blank, outside the US)."""
    try:
        point = float(row["lat"]), float(row["long"])
    except (TypeError, ValueError):
        return None
    return point if point != (0.0, 0.0) and geo.in_us_area(point) else None


def zip_rows(package_rows) -> list[dict]:
    """Return one dict of ZipCode fields per package row, with estimated centroids where they can be had."""
    rows = []
    for raw in package_rows:
        state = raw["state"]
        military = (
            raw["zip_code_type"] == "MILITARY" or state in MILITARY_STATES or raw["city"].upper() in MILITARY_CITIES
        )
        point = None if military else own_point(raw)
        rows.append(
            {
                "code": raw["zip_code"],
                "city": raw["city"].title()[:100],
                "state": state,
                "kind": ZipKind.MILITARY if military else PACKAGE_KINDS.get(raw["zip_code_type"], ZipKind.STANDARD),
                "is_active": bool(raw["active"]),
                "latitude": None if point is None else point[0],
                "longitude": None if point is None else point[1],
                "is_estimated": False,
            }
        )
    located = defaultdict(list)
    for row in rows:
        if row["latitude"] is not None:
            located[row["city"].casefold(), row["state"]].append((row["latitude"], row["longitude"]))
    for row in rows:
        neighbours = located.get((row["city"].casefold(), row["state"]))
        placeable = row["kind"] != ZipKind.MILITARY and row["state"] in US_STATES_AND_TERRITORIES
        if row["latitude"] is None and placeable and neighbours:
            estimate = geo.mean_point(neighbours)
            if geo.in_us_area(estimate):
                row["latitude"], row["longitude"], row["is_estimated"] = *estimate, True
    return rows


def iter_zip_rows():
    """Yield (code, city, state, latitude, longitude) for every ZIP with a location, as load_zipcodes stores it."""
    for row in zip_rows(zipcodes.list_all()):
        if row["latitude"] is not None:
            yield row["code"], row["city"], row["state"], row["latitude"], row["longitude"]


def load_zipcodes(model=None, *, batch_size=5000) -> ZipLoadResult:
    """Insert or refresh every ZIP; rows a curator corrected are kept as they are.

    `model` lets the data migration pass its historical ZipCode model.
    """
    if model is None:
        from directory.models import ZipCode as model
    corrected = set(model.objects.filter(is_corrected=True).values_list("code", flat=True))
    rows = [row for row in zip_rows(zipcodes.list_all()) if row["code"] not in corrected]
    model.objects.bulk_create(
        [model(**row) for row in rows],
        batch_size=batch_size,
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=ZIP_FIELDS,
    )
    return ZipLoadResult(
        loaded=len(rows),
        kept_corrections=len(corrected),
        estimated=sum(row["is_estimated"] for row in rows),
        unlocated=sum(row["latitude"] is None for row in rows),
    )
