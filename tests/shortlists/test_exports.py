"""Shortlist exports: CSV (with formula neutralisation), PDF referral sheet, FHIR R4 Bundle."""

import csv
import datetime
import io
import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from directory.models import Procedure, Service, Specialty, VolumeSource
from shortlists.exports import export_items
from shortlists.exports.csv import write_shortlist_csv
from shortlists.exports.fhir import write_shortlist_fhir
from shortlists.exports.pdf import write_shortlist_pdf
from shortlists.models import ApiToken
from tests.factories import (
    PhysicianFactory,
    PracticeFactory,
    ProcedureVolumeFactory,
    ShortlistFactory,
    SpecialistFactory,
)
from tests.fhir_validation import assert_conformant

pytestmark = pytest.mark.django_db

V2_0360 = "http://terminology.hl7.org/CodeSystem/v2-0360"
HYPERLINK = '=HYPERLINK("http://x","y")'


def render_csv(shortlist) -> str:
    out = io.StringIO()
    write_shortlist_csv(shortlist, export_items(shortlist), out)
    return out.getvalue()


def csv_rows(text):
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the byte-order mark
    return list(csv.reader(io.StringIO(text[1:])))


def render_pdf_text(shortlist) -> tuple[str, int]:
    out = io.BytesIO()
    write_shortlist_pdf(shortlist, export_items(shortlist), out)
    reader = PdfReader(io.BytesIO(out.getvalue()))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def render_bundle(shortlist) -> dict:
    out = io.StringIO()
    write_shortlist_fhir(shortlist, export_items(shortlist), out)
    return json.loads(out.getvalue())


@pytest.fixture
def shortlist():
    surgeon = SpecialistFactory(
        first_name="Ana",
        last_name="Álvarez",
        credentials="MD, FAAOS",
        npi="1234567893",
        offers_mis_si_fusion=True,
        offers_diagnostic_si_injection=True,
        practices=[PracticeFactory(name="Lakeshore Spine", phone="312-555-0199", zip_code="60611")],
    )
    ProcedureVolumeFactory(specialist=surgeon, count=34, verified=True)
    physiatrist = SpecialistFactory(last_name="Brown", specialty=Specialty.PMR, offers_conservative_care=True)
    shortlist = ShortlistFactory(title="Low back, right side", specialists=[surgeon, physiatrist])
    shortlist.items.filter(specialist=surgeon).update(note="Ask for the Tuesday clinic")
    return shortlist


# --- CSV ---------------------------------------------------------------------------------------------


def test_csv_has_a_header_and_one_row_per_specialist_in_order(shortlist):
    rows = csv_rows(render_csv(shortlist))
    header, first, second = rows
    assert header[:9] == [
        *("Rank", "Name", "Credentials", "NPI", "Specialty", "Practice", "Address", "Phone", "Distance (miles)")
    ]
    record = dict(zip(header, first, strict=True))
    assert record["Rank"] == "1"
    assert record["Name"] == "Ana Álvarez"
    assert record["Credentials"] == "MD, FAAOS"
    assert record["NPI"] == "1234567893"
    assert record["Practice"] == "Lakeshore Spine"
    assert record["Phone"] == "312-555-0199"
    assert float(record["Distance (miles)"]) < 1
    assert record["Minimally invasive SI-joint fusion (past year)"] == "34"
    assert record["Minimally invasive SI-joint fusion: period and source"] == "Jan–Dec 2025, self-reported, verified"
    assert str(Service.MIS_SI_FUSION.label) in record["Services"]
    assert record["Note"] == "Ask for the Tuesday clinic"
    assert dict(zip(header, second, strict=True))["Name"].endswith("Brown")


@pytest.mark.parametrize("dangerous", [HYPERLINK, "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_csv_neutralises_cells_that_a_spreadsheet_would_run(dangerous):
    specialist = SpecialistFactory(last_name=dangerous, first_name="")
    shortlist = ShortlistFactory(specialists=[specialist])
    shortlist.items.update(note=dangerous)
    text = render_csv(shortlist)
    record = dict(zip(*csv_rows(text), strict=True))
    assert record["Name"] == "'" + dangerous
    assert record["Note"] == "'" + dangerous
    for line in text.splitlines():
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_csv_leaves_out_unpublished_specialists(shortlist):
    shortlist.items.first().specialist.__class__.objects.filter(last_name="Brown").update(is_published=False)
    assert len(csv_rows(render_csv(shortlist))) == 2


# --- PDF ---------------------------------------------------------------------------------------------


def test_pdf_referral_sheet_has_every_specialist_note_and_the_disclaimer(shortlist):
    text, _pages = render_pdf_text(shortlist)
    flat = " ".join(text.split())
    assert "Low back, right side" in flat
    assert "from ZIP 60611 within 50 miles" in flat
    assert "Prior lumbar fusion" in flat and "8 months of non-surgical care" in flat
    assert "1. Ana Álvarez, MD, FAAOS" in flat
    assert "2. Test" in flat and "Brown" in flat
    assert "Lakeshore Spine" in flat and "312-555-0199" in flat
    assert "34 minimally invasive SI-joint fusions" in flat
    assert "Ask for the Tuesday clinic" in flat
    assert "Questions to ask" in flat
    assert "Not medical advice" in flat


def test_pdf_of_a_long_list_keeps_every_item(django_assert_max_num_queries):
    specialists = [SpecialistFactory(last_name=f"Zeta{n:02d}") for n in range(30)]
    shortlist = ShortlistFactory(specialists=specialists)
    with django_assert_max_num_queries(6):  # exports prefetch: no query per item
        text, pages = render_pdf_text(shortlist)
    flat = " ".join(text.split())
    assert pages > 1
    for n in range(30):
        assert f"Zeta{n:02d}" in flat


def test_pdf_escapes_markup_in_names_and_notes():
    shortlist = ShortlistFactory(specialists=[SpecialistFactory(last_name="<b>Bold</b> & Co")])
    shortlist.items.update(note="<script>alert(1)</script>")
    flat = " ".join(render_pdf_text(shortlist)[0].split())
    assert "<b>Bold</b> & Co" in flat
    assert "<script>alert(1)</script>" in flat


# --- FHIR --------------------------------------------------------------------------------------------


def entries_of(data, kind):
    return [entry["resource"] for entry in data["entry"] if entry["resource"]["resourceType"] == kind]


def test_fhir_bundle_validates_as_r4_and_meets_the_plan_net_rules(shortlist):
    data = render_bundle(shortlist)
    bundle = assert_conformant(data)
    assert bundle.type == "collection"
    kinds = [entry.resource.resource_type for entry in bundle.entry]
    assert kinds.count("Practitioner") == 2
    assert kinds.count("PractitionerRole") == 2
    assert kinds.count("Organization") == kinds.count("Location") == 2
    for resource in (entry["resource"] for entry in data["entry"][1:]):
        assert resource["meta"]["profile"][0].startswith(
            "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/plannet-"
        )
        assert resource["meta"]["lastUpdated"]
    practitioner = entries_of(data, "Practitioner")[0]
    assert practitioner["identifier"][0] == {
        "use": "official",
        "system": "http://hl7.org/fhir/sid/us-npi",
        "value": "1234567893",
    }
    assert practitioner["name"][0]["family"] == "Álvarez"
    assert practitioner["name"][0]["suffix"] == ["MD", "FAAOS"]
    assert practitioner["qualification"] == [
        {
            "code": {
                "text": "MD",
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0360",
                        "code": "MD",
                        "display": "Doctor of Medicine",
                    }
                ],
            }
        },
        {"code": {"text": "FAAOS"}},
    ]


def test_fhir_list_keeps_the_physicians_order_notes_and_reasons(shortlist):
    data = render_bundle(shortlist)
    first = data["entry"][0]["resource"]
    assert first["resourceType"] == "List"
    assert first["title"] == "Low back, right side"
    assert first["orderedBy"]["coding"][0]["code"] == "user"
    assert any("lumbar fusion" in note["text"].lower() for note in first["note"])  # the situation it was built for
    roles = {entry["fullUrl"]: entry["resource"] for entry in data["entry"]}
    ordered = [roles[entry["item"]["reference"]] for entry in first["entry"]]
    items = list(shortlist.items.order_by("position"))
    assert [role["practitioner"]["display"] for role in ordered] == [item.specialist.display_name for item in items]
    parts = {part["url"]: part for part in first["entry"][0]["extension"][0]["extension"]}
    assert parts["note"]["valueString"] == "Ask for the Tuesday clinic"
    reasons = [p["valueString"] for p in first["entry"][0]["extension"][0]["extension"] if p["url"] == "reason"]
    assert reasons == items[0].reasons and reasons
    # Reversing the physician's order reverses the List, not the resources' own order.
    shortlist.move(items[1], -1)
    again = render_bundle(shortlist)["entry"][0]["resource"]
    assert [e["item"]["reference"] for e in again["entry"]] == [e["item"]["reference"] for e in first["entry"]][::-1]


def test_fhir_role_carries_past_year_counts_with_period_source_and_verification(shortlist):
    today = timezone.localdate()
    surgeon = shortlist.items.order_by("position").first().specialist
    surgeon.volumes.all().delete()
    ProcedureVolumeFactory(
        specialist=surgeon,
        count=34,
        verified=True,
        period_start=today - datetime.timedelta(days=400),
        period_end=today - datetime.timedelta(days=36),
    )
    ProcedureVolumeFactory(
        specialist=surgeon,
        procedure=Procedure.SI_INJECTION,
        count=None,
        is_suppressed=True,
        source=VolumeSource.CMS_MEDICARE,
        period_start=today - datetime.timedelta(days=400),
        period_end=today - datetime.timedelta(days=36),
    )
    data = render_bundle(shortlist)
    assert_conformant(data)
    role = next(r for r in entries_of(data, "PractitionerRole") if r["practitioner"]["display"] == surgeon.display_name)
    volumes = [e for e in role["extension"] if e["url"].endswith("/fhir/StructureDefinition/sij-past-year-volume")]
    by_procedure = {
        next(p for p in v["extension"] if p["url"] == "procedure")["valueCodeableConcept"]["coding"][0]["code"]: {
            p["url"]: p for p in v["extension"]
        }
        for v in volumes
    }
    fusion = by_procedure["mis-si-fusion"]
    assert fusion["count"]["valueUnsignedInt"] == 34
    assert fusion["verified"]["valueBoolean"] is True
    assert fusion["source"]["valueCoding"]["code"] == "self-reported"
    assert fusion["period"]["valuePeriod"]["end"] == (today - datetime.timedelta(days=36)).isoformat()
    injection = by_procedure["si-injection"]
    assert "count" not in injection  # suppressed by the source: never shown as 0
    assert injection["suppressed"]["valueBoolean"] is True
    new_patients = next(e for e in role["extension"] if e["url"].endswith("/StructureDefinition/newpatients"))
    assert new_patients["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "newpt"


def test_fhir_references_resolve_inside_the_bundle(shortlist):
    data = render_bundle(shortlist)
    full_urls = {entry["fullUrl"] for entry in data["entry"]}
    roles = entries_of(data, "PractitionerRole")
    for role in roles:
        references = [role["practitioner"], role["organization"], *role["location"], *role.get("healthcareService", [])]
        assert {ref["reference"] for ref in references} <= full_urls
    assert roles[0]["specialty"][0]["coding"][0] == {
        "system": "http://nucc.org/provider-taxonomy",
        "code": "207XS0117X",
        "display": "Orthopaedic Surgery of the Spine Physician",
    }
    location = entries_of(data, "Location")[0]
    assert location["position"]["latitude"] == pytest.approx(41.89, abs=0.1)
    assert location["telecom"][0]["value"] == "312-555-0199"
    services = entries_of(data, "HealthcareService")[0]
    fusion = next(concept for concept in services["type"] if concept["text"] == Service.MIS_SI_FUSION.label)
    assert fusion["coding"][0]["code"] == "mis-si-fusion"
    assert fusion["coding"][0]["system"].endswith("/fhir/CodeSystem/sij-services")


def test_fhir_shares_one_organization_per_practice():
    practice = PracticeFactory()
    shortlist = ShortlistFactory(specialists=[SpecialistFactory(practices=[practice]) for _ in range(3)])
    data = render_bundle(shortlist)
    assert_conformant(data)
    kinds = [entry["resource"]["resourceType"] for entry in data["entry"]]
    assert kinds.count("Organization") == 1 and kinds.count("Location") == 1
    assert kinds.count("Practitioner") == 3


def test_fhir_rule_check_passes_other_specialty_no_contact_and_no_npi():
    """The issue's three cases: specialty "other", no phone and no website, no NPI (and no coordinates)."""
    other = SpecialistFactory(specialty=Specialty.OTHER, offers_conservative_care=True)
    unreachable = SpecialistFactory(website="", practices=[PracticeFactory(phone="")])
    anonymous = SpecialistFactory(npi=None, practices=[PracticeFactory(zip_code="", phone="")])
    data = render_bundle(ShortlistFactory(specialists=[other, unreachable, anonymous]))
    assert_conformant(data)
    roles = {role["practitioner"]["display"]: role for role in entries_of(data, "PractitionerRole")}
    assert roles[other.display_name]["specialty"][0]["coding"][0]["code"] == "174400000X"
    assert roles[unreachable.display_name]["telecom"] == [
        {"system": "url", "value": f"http://127.0.0.1:8000/specialists/{unreachable.pk}/", "use": "work"}
    ]
    practitioner = next(p for p in entries_of(data, "Practitioner") if p["id"] == str(anonymous.pk))
    assert practitioner["identifier"] == [
        {"use": "secondary", "system": "http://127.0.0.1:8000/fhir/sid/sij-specialist", "value": str(anonymous.pk)}
    ]


# --- Views -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "starts"),
    [
        ("shortlist-export-csv", "text/csv; charset=utf-8", "\ufeff".encode()),
        ("shortlist-export-pdf", "application/pdf", b"%PDF-"),
        ("shortlist-export-fhir", "application/fhir+json", b"{"),
    ],
)
def test_export_views_download_the_owners_list(client, shortlist, name, content_type, starts):
    client.force_login(shortlist.owner)
    response = client.get(reverse(f"shortlists:{name}", args=[shortlist.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.content.startswith(starts)


def test_exports_never_include_another_users_list(client, shortlist):
    ShortlistFactory(specialists=[SpecialistFactory(last_name="Elsewhere")])
    client.force_login(shortlist.owner)
    body = client.get(f"/shortlists/{shortlist.pk}/export.fhir.json").content.decode()
    assert "Elsewhere" not in body
    client.force_login(PhysicianFactory())
    assert client.get(f"/shortlists/{shortlist.pk}/export.csv").status_code == 404


def test_integrations_fetch_exports_with_their_api_token(shortlist):
    owner = Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(shortlist.owner)}")
    response = owner.get(reverse("shortlists:shortlist-export-fhir", args=[shortlist.pk]))
    assert response.status_code == 200
    assert_conformant(json.loads(response.content))
    intruder = Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(PhysicianFactory())}")
    assert intruder.get(reverse("shortlists:shortlist-export-csv", args=[shortlist.pk])).status_code == 404
    stranger = Client(HTTP_AUTHORIZATION="Token not-a-token")
    assert stranger.get(reverse("shortlists:shortlist-export-pdf", args=[shortlist.pk])).status_code == 401
