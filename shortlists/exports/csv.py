"""A shortlist as CSV: one row per specialist, for spreadsheets."""

import csv

from directory.csvsafe import neutralise_cell
from directory.models import Service
from directory.volumes import volume_columns
from shortlists.exports import SI_PROCEDURES


def csv_header() -> list[str]:
    header = ["Rank", "Name", "Credentials", "NPI", "Specialty", "Practice", "Address", "Phone", "Distance (miles)"]
    for procedure in SI_PROCEDURES:
        header += [f"{procedure.label} (past year)", f"{procedure.label}: period and source"]
    return header + ["Services", "Note"]


def write_shortlist_csv(shortlist, items, file) -> None:
    """Write one row per specialist, UTF-8 with a byte-order mark so that Excel detects the encoding."""
    file.write("\ufeff")
    writer = csv.writer(file, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(csv_header())
    for rank, item in enumerate(items, start=1):
        specialist, practice = item.specialist, item.practice
        row = [
            rank,
            specialist.full_name,
            specialist.credentials,
            specialist.npi or "",
            specialist.get_specialty_display(),
            practice.name if practice else "",
            practice.address if practice else "",
            practice.phone if practice else "",
            "" if item.distance_miles is None else f"{item.distance_miles:.1f}",
        ]
        for procedure in SI_PROCEDURES:
            row += volume_columns(specialist.past_year_volume(procedure))
        row += ["; ".join(str(Service(value).label) for value in specialist.services), item.note]
        writer.writerow([neutralise_cell(cell) for cell in row])
