"""Render a shortlist as CSV, a PDF referral sheet, or a FHIR R4 Bundle, each written to a file object.

Renderers take the shortlist and its items (see `export_items`) and never query another user's data:
the view has already checked ownership, and every row comes from `shortlist.items`. One module per format:
`shortlists.exports.csv`, `.pdf` and `.fhir`; what they share is here.
"""

from directory.models import Procedure
from referral.ranking import Situation

PDF_REASONS = 4  # keeps the sheet to a page or two for a handful of specialists
SI_PROCEDURES = [Procedure.MIS_SI_FUSION, Procedure.OPEN_SI_FUSION, Procedure.SI_INJECTION, Procedure.RF_ABLATION]


def export_items(shortlist):
    """Return the shortlist's exportable items in order: still published, with everything the renderers read."""
    return list(shortlist.items.published().for_display())


def situation_lines(shortlist) -> list[str]:
    return Situation.from_dict(shortlist.situation or {}).describe()


def format_distance(miles) -> str:
    return "" if miles is None else f"{miles:.1f} mi"
