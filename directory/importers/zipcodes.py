"""Load every US ZIP centroid from the offline `zipcodes` package."""

from dataclasses import dataclass

import zipcodes


@dataclass
class ZipLoadResult:
    loaded: int
    kept_corrections: int


def iter_zip_rows():
    """Yield (code, city, state, latitude, longitude) for every ZIP the package knows with a centroid."""
    for row in zipcodes.list_all():
        try:
            latitude, longitude = float(row["lat"]), float(row["long"])
        except (TypeError, ValueError):
            continue
        yield row["zip_code"], row["city"].title()[:100], row["state"], latitude, longitude


def load_zipcodes(model=None, *, batch_size=5000) -> ZipLoadResult:
    """Insert or refresh every ZIP; centroids a curator corrected are kept as they are.

    `model` lets the data migration pass its historical ZipCode model.
    """
    if model is None:
        from directory.models import ZipCode as model
    corrected = set(model.objects.filter(is_corrected=True).values_list("code", flat=True))
    rows = [
        model(code=code, city=city, state=state, latitude=latitude, longitude=longitude)
        for code, city, state, latitude, longitude in iter_zip_rows()
        if code not in corrected
    ]
    model.objects.bulk_create(
        rows,
        batch_size=batch_size,
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["city", "state", "latitude", "longitude"],
    )
    return ZipLoadResult(loaded=len(rows), kept_corrections=len(corrected))
