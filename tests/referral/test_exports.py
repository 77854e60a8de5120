"""Shortlist exports: CSV (with formula neutralisation), PDF referral sheet, FHIR R4 Bundle."""

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader

from directory.models import Service, Specialty
from referral import exports
from referral.models import ApiToken
from tests.factories import (
    PhysicianFactory,
    PracticeFactory,
    ProcedureVolumeFactory,
    ShortlistFactory,
    SpecialistFactory,
)

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://x","y")'


def render_csv(shortlist) -> str:
    out = io.StringIO()
    exports.write_shortlist_csv(shortlist, exports.export_items(shortlist), out)
    return out.getvalue()


def csv_rows(text):
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the byte-order mark
    return list(csv.reader(io.StringIO(text[1:])))


def render_pdf_text(shortlist) -> tuple[str, int]:
    out = io.BytesIO()
    exports.write_shortlist_pdf(shortlist, exports.export_items(shortlist), out)
    reader = PdfReader(io.BytesIO(out.getvalue()))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def render_bundle(shortlist) -> dict:
    out = io.StringIO()
    exports.write_shortlist_fhir(shortlist, exports.export_items(shortlist), out)
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
    assert Service.MIS_SI_FUSION.label in record["Services"]
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


def test_fhir_bundle_validates_as_r4_with_plan_net_resources(shortlist):
    data = render_bundle(shortlist)
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds.count("Practitioner") == 2
    assert kinds.count("PractitionerRole") == 2
    assert kinds.count("Organization") == kinds.count("Location") == 2
    for entry in data["entry"]:
        assert entry["resource"]["meta"]["profile"][0].startswith(
            "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/plannet-"
        )
    practitioner = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Practitioner")
    assert practitioner["identifier"] == [
        {"use": "official", "system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}
    ]
    assert practitioner["name"][0] == {"family": "Álvarez", "given": ["Ana"], "suffix": ["MD", "FAAOS"]}


def test_fhir_references_resolve_inside_the_bundle(shortlist):
    data = render_bundle(shortlist)
    full_urls = {entry["fullUrl"] for entry in data["entry"]}
    roles = [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "PractitionerRole"]
    for role in roles:
        references = [role["practitioner"], role["organization"], *role["location"], *role.get("healthcareService", [])]
        assert {ref["reference"] for ref in references} <= full_urls
    role = roles[0]
    assert role["specialty"][0]["coding"][0] == {
        "system": "http://nucc.org/provider-taxonomy",
        "code": "207XS0117X",
        "display": "Orthopaedic Surgery of the Spine Physician",
    }
    location = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Location")
    assert location["position"]["latitude"] == pytest.approx(41.89, abs=0.1)
    assert location["telecom"][0]["value"] == "312-555-0199"
    services = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "HealthcareService")
    assert {"text": Service.MIS_SI_FUSION.label} in services["type"]


def test_fhir_shares_one_organization_per_practice():
    practice = PracticeFactory()
    shortlist = ShortlistFactory(specialists=[SpecialistFactory(practices=[practice]) for _ in range(3)])
    data = render_bundle(shortlist)
    Bundle.model_validate(data)
    kinds = [entry["resource"]["resourceType"] for entry in data["entry"]]
    assert kinds.count("Organization") == 1 and kinds.count("Location") == 1
    assert kinds.count("Practitioner") == 3


def test_fhir_bundle_of_a_specialist_without_npi_or_coordinates_still_validates():
    practice = PracticeFactory(zip_code="", phone="")
    specialist = SpecialistFactory(npi=None, specialty=Specialty.OTHER, practices=[practice])
    data = render_bundle(ShortlistFactory(specialists=[specialist]))
    Bundle.model_validate(data)
    practitioner = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Practitioner")
    assert "identifier" not in practitioner


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
    response = client.get(reverse(f"referral:{name}", args=[shortlist.pk]))
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
    response = owner.get(reverse("referral:shortlist-export-fhir", args=[shortlist.pk]))
    assert response.status_code == 200
    Bundle.model_validate(json.loads(response.content))
    intruder = Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(PhysicianFactory())}")
    assert intruder.get(reverse("referral:shortlist-export-csv", args=[shortlist.pk])).status_code == 404
    stranger = Client(HTTP_AUTHORIZATION="Token not-a-token")
    assert stranger.get(reverse("referral:shortlist-export-pdf", args=[shortlist.pk])).status_code == 401
