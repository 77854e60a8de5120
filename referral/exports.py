"""Render a shortlist as CSV, a PDF referral sheet, or a FHIR R4 Bundle, each written to a file object.

Renderers take the shortlist and its items (see `export_items`) and never query another user's data:
the view has already checked ownership, and every row comes from `shortlist.items`.
"""

import csv
import datetime
import json
import uuid
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import HRFlowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer

from directory.models import Procedure, Service, Specialty
from referral.ranking import Situation, format_period, source_label

DISCLAIMER = (
    "Not medical advice. SIJ Finder describes specialists and what they offer; it does not diagnose or recommend "
    "treatment. Talk with a qualified clinician about your symptoms. In an emergency, call 911."
)
# The questions of the "About SI-joint pain" page (templates/referral/about.html#questions).
QUESTIONS_TO_ASK = [
    "How many patients with SI-joint problems have you treated or operated on in the past year?",
    "How will you confirm that my pain comes from the SI joint and not from my lumbar spine or hip?",
    "Which non-surgical options should I try first, and for how long?",
    "If I need surgery, do you offer a minimally invasive fusion, and why would you choose it, or an open operation, "
    "for me?",
]
PDF_REASONS = 4  # keeps the sheet to a page or two for a handful of specialists
SI_PROCEDURES = [Procedure.MIS_SI_FUSION, Procedure.OPEN_SI_FUSION, Procedure.SI_INJECTION, Procedure.RF_ABLATION]


def export_items(shortlist):
    """Return the shortlist's exportable items in order: still published, with everything the renderers read."""
    return list(shortlist.items.published().for_display())


def situation_lines(shortlist) -> list[str]:
    return Situation.from_dict(shortlist.situation or {}).describe()


def format_distance(miles) -> str:
    return "" if miles is None else f"{miles:.1f} mi"


def format_volume(volume) -> tuple[str, str]:
    """Return (count, "period, source") for a past-year ProcedureVolume, or blanks when there is none."""
    if volume is None:
        return "", ""
    count = "not published by source" if volume.count is None else str(volume.count)
    details = [format_period(volume.period_start, volume.period_end), source_label(volume.source)]
    details.append("verified" if volume.verified else "not verified")
    return count, ", ".join(details)


# --- CSV ---------------------------------------------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value) -> str:
    """Return the cell as text that a spreadsheet will not run as a formula (OWASP CSV injection advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


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
            row += format_volume(specialist.past_year_volume(procedure))
        row += ["; ".join(Service(value).label for value in specialist.services), item.note]
        writer.writerow([neutralise_cell(cell) for cell in row])


# --- PDF ---------------------------------------------------------------------------------------------


def pdf_styles():
    base = getSampleStyleSheet()
    body = ParagraphStyle(
        "body", parent=base["BodyText"], fontName="Helvetica", fontSize=9.5, leading=12.5, spaceBefore=0, spaceAfter=2
    )
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=18, leading=22, alignment=TA_LEFT),
        "meta": ParagraphStyle("meta", parent=body, textColor=colors.HexColor("#4a5563")),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=4),
        "name": ParagraphStyle("name", parent=body, fontName="Helvetica-Bold", fontSize=12, leading=15, spaceAfter=1),
        "body": body,
        "label": ParagraphStyle("label", parent=body, fontName="Helvetica-Bold", spaceBefore=5, spaceAfter=1),
        "note": ParagraphStyle(
            "note",
            parent=body,
            backColor=colors.HexColor("#f2f5f9"),
            borderPadding=(4, 5, 4, 5),
            spaceBefore=5,
            spaceAfter=3,
        ),
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor=colors.HexColor("#4a5563")),
    }


def bullets(lines, style) -> list:
    """Return one bulleted Paragraph per line (plain Paragraphs: several times faster than ListFlowable)."""
    bulleted = ParagraphStyle(f"{style.name}-bullet", parent=style, leftIndent=14, bulletIndent=3, bulletFontSize=8)
    return [Paragraph(escape(line), bulleted, bulletText="•") for line in lines]


def specialist_block(rank, item, styles):
    specialist, practice = item.specialist, item.practice
    flow = [
        HRFlowable(width="100%", thickness=0.6, color=colors.HexColor("#d5dbe3"), spaceBefore=2, spaceAfter=8),
        Paragraph(f"{rank}. {escape(specialist.display_name)}", styles["name"]),
    ]
    facts_line = [specialist.get_specialty_display()]
    if item.distance_miles is not None:
        facts_line.append(f"{item.distance_miles:.1f} miles away")
    facts_line.append("accepting new patients" if specialist.accepting_new_patients else "not accepting new patients")
    if specialist.telehealth:
        facts_line.append("offers telehealth")
    flow.append(Paragraph(escape(" · ".join(facts_line)), styles["meta"]))
    if practice:
        contact = [f"<b>{escape(practice.name)}</b>", escape(practice.address)]
        if practice.phone:
            contact.append(f"Phone {escape(practice.phone)}")
        flow.append(Paragraph("<br/>".join(part for part in contact if part), styles["body"]))
    if specialist.website:
        flow.append(Paragraph(escape(specialist.website), styles["body"]))
    if specialist.npi:
        flow.append(Paragraph(f"NPI {specialist.npi}", styles["small"]))
    if item.facts:
        flow += [Paragraph("Key facts", styles["label"]), *bullets(item.facts, styles["body"])]
    if item.reasons:  # the weightiest first; the list page has them all
        reasons = item.reasons[:PDF_REASONS]
        flow += [Paragraph("Why this specialist is on the list", styles["label"]), *bullets(reasons, styles["body"])]
    if item.note:
        note = escape(item.note).replace("\n", "<br/>")
        flow.append(Paragraph(f"<b>Your doctor's note:</b> {note}", styles["note"]))
    flow.append(Spacer(1, 6))
    return KeepTogether(flow)


def write_shortlist_pdf(shortlist, items, file, *, today=None) -> None:
    """Write a referral sheet for the patient: who to see, how to reach them, why, and what to ask."""
    today = today or timezone.localdate()
    styles = pdf_styles()

    def draw_footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#4a5563"))
        canvas.drawString(doc.leftMargin, 0.45 * inch, "SIJ Finder referral sheet · Not medical advice")
        canvas.drawRightString(LETTER[0] - doc.rightMargin, 0.45 * inch, f"Page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        file,
        pagesize=LETTER,
        leftMargin=0.8 * inch,
        rightMargin=0.8 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.8 * inch,
        title=shortlist.title,
        author="SIJ Finder",
        subject="SI-joint specialist referral sheet",
    )
    where = []
    if shortlist.origin_zip:
        where.append(f"from ZIP {shortlist.origin_zip}")
    if shortlist.radius_miles:
        where.append(f"within {shortlist.radius_miles} miles")
    meta = f"Prepared {today:%B} {today.day}, {today.year}"
    if where:
        meta += " · Specialists " + " ".join(where)
    story = [Paragraph(escape(shortlist.title), styles["title"]), Paragraph(escape(meta), styles["meta"])]
    if lines := situation_lines(shortlist):
        story += [Paragraph("Chosen for", styles["h2"]), *bullets(lines, styles["body"])]
    story.append(Paragraph(f"Specialists ({len(items)})", styles["h2"]))
    if not items:
        story.append(Paragraph("This list has no specialists yet.", styles["body"]))
    story += [specialist_block(rank, item, styles) for rank, item in enumerate(items, start=1)]
    story += [
        KeepTogether(
            [
                Paragraph("Questions to ask at your appointment", styles["h2"]),
                *bullets(QUESTIONS_TO_ASK, styles["body"]),
            ]
        ),
        Spacer(1, 8),
        Paragraph(f"<b>{escape(DISCLAIMER)}</b>", styles["small"]),
        Paragraph(
            "Distances are straight-line miles from the ZIP code's centre. Counts are past-year procedure counts "
            "with their period and source; practices change, so please confirm details when you call.",
            styles["small"],
        ),
    ]
    doc.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer)


# --- FHIR R4 -----------------------------------------------------------------------------------------

PLAN_NET = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
# NUCC Health Care Provider Taxonomy codes for our specialties ("other" has none).
NUCC_TAXONOMY = {
    Specialty.ORTHOPAEDIC_SPINE: ("207XS0117X", "Orthopaedic Surgery of the Spine Physician"),
    Specialty.NEUROSURGERY: ("207T00000X", "Neurological Surgery Physician"),
    Specialty.PAIN_MEDICINE: ("208VP0000X", "Pain Medicine Physician"),
    Specialty.PMR: ("208100000X", "Physical Medicine & Rehabilitation Physician"),
    Specialty.INTERVENTIONAL_RADIOLOGY: ("2085R0204X", "Vascular & Interventional Radiology Physician"),
}
ROLE_CODE = {
    "coding": [
        {
            "system": "http://hl7.org/fhir/us/davinci-pdex-plan-net/CodeSystem/ProviderRoleCS",
            "code": "ph",
            "display": "Physician",
        }
    ]
}
# A fixed namespace makes fullUrls stable: the same shortlist exports the same references.
FHIR_NAMESPACE = uuid.UUID("5b0e4a7e-8f3a-4a43-9d0f-3f6f8f1b6c11")


def full_url(kind: str, pk) -> str:
    return f"urn:uuid:{uuid.uuid5(FHIR_NAMESPACE, f'{kind}/{pk}')}"


def practitioner_resource(specialist):
    name = {"family": specialist.last_name, "given": [n for n in (specialist.first_name, specialist.middle_name) if n]}
    if specialist.credentials:
        name["suffix"] = [part.strip() for part in specialist.credentials.split(",") if part.strip()]
    resource = {
        "resourceType": "Practitioner",
        "meta": {"profile": [PLAN_NET + "plannet-Practitioner"]},
        "active": True,
        "name": [name],
    }
    if specialist.npi:
        resource["identifier"] = [{"use": "official", "system": NPI_SYSTEM, "value": specialist.npi}]
    if specialist.gender in ("F", "M", "X"):
        resource["gender"] = {"F": "female", "M": "male", "X": "other"}[specialist.gender]
    if specialist.language_list:
        resource["communication"] = [{"text": language} for language in specialist.language_list]
    return resource


def address(practice):
    result = {"use": "work", "type": "physical", "country": "US"}
    lines = [line for line in (practice.address_line1, practice.address_line2) if line]
    if lines:
        result["line"] = lines
    for key, value in (("city", practice.city), ("state", practice.state), ("postalCode", practice.zip_code)):
        if value:
            result[key] = value
    return result


def telecom(practice):
    return [{"system": "phone", "value": practice.phone, "use": "work"}] if practice.phone else []


def organization_resource(practice):
    resource = {
        "resourceType": "Organization",
        "meta": {"profile": [PLAN_NET + "plannet-Organization"]},
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/us/davinci-pdex-plan-net/CodeSystem/OrgTypeCS",
                        "code": "prvgrp",
                        "display": "Provider Group",
                    }
                ]
            }
        ],
        "name": practice.name,
        "address": [address(practice)],
    }
    if phones := telecom(practice):
        resource["telecom"] = phones
    return resource


def location_resource(practice):
    resource = {
        "resourceType": "Location",
        "meta": {"profile": [PLAN_NET + "plannet-Location"]},
        "status": "active",
        "name": practice.name,
        "address": address(practice),
        "managingOrganization": {"reference": full_url("Organization", practice.pk), "display": practice.name},
    }
    if phones := telecom(practice):
        resource["telecom"] = phones
    if practice.point:
        resource["position"] = {"latitude": practice.latitude, "longitude": practice.longitude}
    return resource


def practitioner_role_resource(item):
    specialist, practice = item.specialist, item.practice
    resource = {
        "resourceType": "PractitionerRole",
        "meta": {"profile": [PLAN_NET + "plannet-PractitionerRole"]},
        "active": True,
        "practitioner": {"reference": full_url("Practitioner", specialist.pk), "display": specialist.display_name},
        "code": [ROLE_CODE],
        "specialty": [specialty_concept(specialist.specialty)],
    }
    if practice:
        resource["organization"] = {"reference": full_url("Organization", practice.pk), "display": practice.name}
        resource["location"] = [{"reference": full_url("Location", practice.pk), "display": practice.name}]
        if phones := telecom(practice):
            resource["telecom"] = phones
    if specialist.services:
        resource["healthcareService"] = [{"reference": full_url("HealthcareService", specialist.pk)}]
    if specialist.website:
        resource.setdefault("telecom", []).append({"system": "url", "value": specialist.website})
    # Plan-Net's new-patients extension needs a network reference; the plain flag goes in availabilityExceptions.
    resource["availabilityExceptions"] = (
        "Accepting new patients" if specialist.accepting_new_patients else "Not accepting new patients"
    ) + ("; offers telehealth" if specialist.telehealth else "")
    return resource


def specialty_concept(specialty):
    label = Specialty(specialty).label
    if specialty in NUCC_TAXONOMY:
        code, display = NUCC_TAXONOMY[specialty]
        return {"coding": [{"system": NUCC_SYSTEM, "code": code, "display": display}], "text": label}
    return {"text": label}


def healthcare_service_resource(item):
    specialist, practice = item.specialist, item.practice
    resource = {
        "resourceType": "HealthcareService",
        "meta": {"profile": [PLAN_NET + "plannet-HealthcareService"]},
        "active": True,
        "name": f"SI-joint care: {specialist.display_name}",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/us/davinci-pdex-plan-net/CodeSystem/HealthcareServiceCategoryCS",
                        "code": "prov",
                        "display": "Medical Provider",
                    }
                ]
            }
        ],
        "type": [{"text": Service(value).label} for value in specialist.services],
        "specialty": [specialty_concept(specialist.specialty)],
        "appointmentRequired": True,
    }
    if practice:
        resource["providedBy"] = {"reference": full_url("Organization", practice.pk), "display": practice.name}
        resource["location"] = [{"reference": full_url("Location", practice.pk)}]
    return resource


def build_shortlist_bundle(shortlist, items, *, now=None) -> dict:
    """Return a FHIR R4 Bundle (type collection) describing the shortlist's specialists and their practices."""
    now = now or timezone.now()
    entries = []
    seen_practices = set()
    for item in items:
        specialist, practice = item.specialist, item.practice
        entries.append(
            {"fullUrl": full_url("Practitioner", specialist.pk), "resource": practitioner_resource(specialist)}
        )
        role = practitioner_role_resource(item)
        entries.append({"fullUrl": full_url("PractitionerRole", item.pk), "resource": role})
        if specialist.services:
            entries.append(
                {"fullUrl": full_url("HealthcareService", specialist.pk), "resource": healthcare_service_resource(item)}
            )
        if practice and practice.pk not in seen_practices:
            seen_practices.add(practice.pk)
            entries.append(
                {"fullUrl": full_url("Organization", practice.pk), "resource": organization_resource(practice)}
            )
            entries.append({"fullUrl": full_url("Location", practice.pk), "resource": location_resource(practice)})
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(FHIR_NAMESPACE, f"Shortlist/{shortlist.pk}")),
        "meta": {"lastUpdated": shortlist.updated_at.isoformat()},
        "identifier": {"system": "urn:sij-finder:shortlist", "value": str(shortlist.pk)},
        "type": "collection",
        "timestamp": now.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
        "entry": entries,
    }


def write_shortlist_fhir(shortlist, items, file, *, now=None) -> None:
    json.dump(build_shortlist_bundle(shortlist, items, now=now), file, indent=2, ensure_ascii=False)
