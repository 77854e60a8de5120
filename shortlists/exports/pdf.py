"""A shortlist as a printable PDF referral sheet (ReportLab)."""

from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import HRFlowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer

from directory.links import safe_url
from referral.guide import DISCLAIMER, questions_to_ask
from shortlists.exports import PDF_REASONS, situation_lines


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
    if website := safe_url(specialist.website):
        flow.append(Paragraph(escape(website), styles["body"]))
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
                *bullets(questions_to_ask(), styles["body"]),
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
