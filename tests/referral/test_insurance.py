"""Patients filter by insurance and see it, with its date and "confirm with the office" (issue 15, item 3)."""

import datetime
import io
import json
import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from directory.models import Insurance
from referral.fhir import terminology as t
from referral.fhir.conformance import check
from shortlists.exports import export_items
from shortlists.exports.fhir import write_shortlist_fhir
from tests.api_schema import assert_matches_schema
from tests.factories import PracticeFactory, ShortlistFactory, SpecialistFactory
from tests.fhir_validation import assert_conformant

pytestmark = pytest.mark.django_db

CONFIRMED = datetime.date(2025, 11, 3)


def office(zip_code="60611", *plans, confirmed=CONFIRMED, **fields):
    practice = PracticeFactory(zip_code=zip_code, insurance_confirmed_on=confirmed, **fields)
    practice.insurance.set(Insurance.objects.filter(code__in=plans))
    return practice


@pytest.fixture
def chicago():
    """Three offices near 60611: Medicare and Aetna; none of the listed; not known. And one far one with Medicare."""
    return {
        "listed": SpecialistFactory(last_name="Listed", practices=[office("60611", "medicare", "aetna")]),
        "none": SpecialistFactory(last_name="Nonelisted", practices=[office("60611")]),
        "unknown": SpecialistFactory(last_name="Unknown", practices=[office("60611", confirmed=None)]),
        # Nearest office takes no Medicare; the one 8 miles north does: with the filter, that one is measured.
        "two": SpecialistFactory(
            last_name="Twooffices",
            practices=[office("60611", "aetna", name="Near Demo Office"), office("60626", "medicare")],
        ),
    }


def page_names(client, **params) -> list[str]:
    response = client.get(f"{reverse('referral:search')}?{urlencode(params)}")
    assert response.status_code == 200
    return re.findall(r'id="result-\d+">.*?<a href="[^"]*">[^<]*?(\w+)</a>', response.content.decode(), re.S)


def api_results(client, **params) -> list[dict]:
    response = client.get(f"{reverse('referral:api-search')}?{urlencode(params)}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize("sort", ["best", "distance"])
def test_the_filter_keeps_practices_that_confirmed_the_insurance_on_page_and_api_alike(client, chicago, sort):
    everyone = api_results(client, zip="60611", sort=sort)
    assert len(everyone) == 4
    results = api_results(client, zip="60611", insurance="medicare", sort=sort)
    assert sorted(r["id"] for r in results) == sorted([chicago["listed"].pk, chicago["two"].pk])
    two = next(r for r in results if r["id"] == chicago["two"].pk)
    assert two["practice"]["zip"] == "60626" and two["distance_miles"] > 5  # the office that takes it
    assert [r["name"].split()[-1] for r in results] == page_names(client, zip="60611", insurance="medicare", sort=sort)
    assert_matches_schema(
        client, client.get(f"{reverse('referral:api-search')}?zip=60611&insurance=aetna").json(), "SearchResponse"
    )


def test_unknown_insurance_is_never_taken_for_a_match_or_for_none(client, chicago):
    for code in Insurance.objects.values_list("code", flat=True):
        ids = {r["id"] for r in api_results(client, zip="60611", insurance=code)}
        assert chicago["unknown"].pk not in ids and chicago["none"].pk not in ids
    by_id = {r["id"]: r["practice"]["insurance"] for r in api_results(client, zip="60611")}
    assert by_id[chicago["unknown"].pk] == {"confirmed_on": None, "accepted": None}
    assert by_id[chicago["none"].pk] == {"confirmed_on": "2025-11-03", "accepted": []}
    assert by_id[chicago["listed"].pk] == {
        "confirmed_on": "2025-11-03",
        "accepted": [{"code": "medicare", "name": "Medicare"}, {"code": "aetna", "name": "Aetna"}],
    }


def test_an_unknown_code_is_a_clear_error_on_page_and_api(client, chicago):
    response = client.get(f"{reverse('referral:api-search')}?zip=60611&insurance=acme")
    assert response.status_code == 400
    assert response.json() == {"errors": {"insurance": ["Unknown insurance: use one of the listed codes."]}}
    page = client.get(f"{reverse('referral:search')}?zip=60611&insurance=acme")
    assert page.status_code == 200
    assert "Unknown insurance: use one of the listed codes." in page.content.decode()


def test_the_search_form_offers_the_curated_list(client, chicago):
    html = client.get(f"{reverse('referral:search')}?zip=60611").content.decode()
    select = re.search(r'<select name="insurance".*?</select>', html, re.S).group(0)
    assert '<option value="" selected>Any insurance</option>' in select
    assert '<option value="va_community_care">VA Community Care</option>' in select


def card(html: str, specialist) -> str:
    return re.search(rf'id="result-{specialist.pk}">(.*?)</li>\s*(?:<li class="result-card|</ol>)', html, re.S).group(1)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_cards_show_the_insurance_with_its_date_and_confirm_with_the_office(client, chicago):
    html = client.get(f"{reverse('referral:search')}?zip=60611").content.decode()
    listed = text(card(html, chicago["listed"]))
    assert "Insurance accepted: Medicare, Aetna" in listed
    assert "As the office confirmed it on Nov. 3, 2025 ; confirm with the office before your visit" in listed
    assert '<time datetime="2025-11-03">' in card(html, chicago["listed"])
    assert "Insurance accepted: none of the insurance we list" in text(card(html, chicago["none"]))
    unknown = text(card(html, chicago["unknown"]))
    assert "Insurance: not on file. Ask the office which insurance it takes." in unknown
    assert "none" not in unknown.lower().split("insurance:")[1]


def test_the_profile_shows_each_practice_s_insurance(client, chicago):
    html = text(client.get(chicago["two"].get_absolute_url()).content.decode())
    assert html.count("As the office confirmed it on Nov. 3, 2025") == 2
    assert "Insurance accepted: Aetna" in html and "Insurance accepted: Medicare" in html
    unknown = text(client.get(chicago["unknown"].get_absolute_url()).content.decode())
    assert "Insurance: not on file." in unknown


def test_compare_names_each_practice_s_insurance(client, chicago):
    url = f"{reverse('referral:compare')}?ids={chicago['two'].pk}&ids={chicago['unknown'].pk}"
    html = text(client.get(url).content.decode())
    assert "Near Demo Office: Aetna (confirmed Nov. 3, 2025)" in html
    assert "Medicare (confirmed Nov. 3, 2025)" in html
    assert "Not on file: ask the office" in html


def test_the_api_schema_documents_the_parameter_and_the_practice_insurance(client):
    schema = client.get("/api/v1/schema/").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert parameters["insurance"]["schema"]["example"] == "medicare"
    assert "confirm with the office" in parameters["insurance"]["description"]
    practice = schema["components"]["schemas"]["Practice"]["properties"]
    assert practice["insurance"] == {"$ref": "#/components/schemas/PracticeInsurance"}
    accepted = schema["components"]["schemas"]["PracticeInsurance"]["properties"]["accepted"]
    assert accepted["nullable"] is True and "never read null as none" in accepted["description"]


def test_the_profile_api_carries_every_practice_s_insurance(client, chicago):
    data = client.get(reverse("referral:api-specialist", args=[chicago["two"].pk])).json()
    assert [p["insurance"]["accepted"] for p in data["practices"]] == [  # practices in name order
        [{"code": "medicare", "name": "Medicare"}],
        [{"code": "aetna", "name": "Aetna"}],
    ]
    assert_matches_schema(client, data, "Profile")


# --- FHIR ---------------------------------------------------------------------------------------------


def fhir(client, path, **params) -> dict:
    response = client.get(f"/fhir/{path}", params, HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200, response.content
    return response.json()


def insurance_extension(location) -> dict | None:
    url = t.canonical("StructureDefinition", t.INSURANCE_EXTENSION)
    found = [e for e in location.get("extension", []) if e["url"] == url]
    return found[0] if found else None


def test_fhir_locations_carry_the_confirmed_insurance_and_nothing_when_unknown(client, chicago):
    bundle = fhir(client, "Location", _count=50)
    assert_conformant(bundle)
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    listed = insurance_extension(by_id[str(chicago["listed"].practices.get().pk)])
    system = t.canonical("CodeSystem", t.INSURANCE_CS)
    assert listed["extension"] == [
        {"url": "confirmed", "valueDate": "2025-11-03"},
        {"url": "insurance", "valueCoding": {"system": system, "code": "medicare", "display": "Medicare"}},
        {"url": "insurance", "valueCoding": {"system": system, "code": "aetna", "display": "Aetna"}},
    ]
    assert insurance_extension(by_id[str(chicago["none"].practices.get().pk)])["extension"] == [
        {"url": "confirmed", "valueDate": "2025-11-03"}
    ]
    assert insurance_extension(by_id[str(chicago["unknown"].practices.get().pk)]) is None


def test_fhir_includes_and_the_shortlist_export_carry_it_too(client, chicago):
    role = f"{chicago['listed'].pk}-{chicago['listed'].practices.get().pk}"
    bundle = fhir(client, "PractitionerRole", _id=role, _include="PractitionerRole:location")
    assert_conformant(bundle)
    [location] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Location"]
    assert insurance_extension(location) is not None

    shortlist = ShortlistFactory(specialists=[chicago["listed"], chicago["unknown"]])
    out = io.StringIO()
    write_shortlist_fhir(shortlist, export_items(shortlist), out)
    exported = json.loads(out.getvalue())
    assert_conformant(exported)
    locations = [e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "Location"]
    assert [insurance_extension(loc) is not None for loc in locations] == [True, False]


def test_the_insurance_code_system_and_extension_are_served(client):
    code_system = fhir(client, f"CodeSystem/{t.INSURANCE_CS}")
    assert_conformant(code_system)
    assert code_system["count"] == Insurance.objects.count()
    assert {"code": "tricare", "display": "TRICARE"} in code_system["concept"]
    definition = fhir(client, f"StructureDefinition/{t.INSURANCE_EXTENSION}")
    assert definition["context"] == [{"type": "element", "expression": "Location"}]


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        ([], "confirmed: exactly one date required"),
        ([{"url": "confirmed", "valueDate": "2025-11-03"}, {"url": "plan", "valueString": "x"}], "unknown part plan"),
        (
            [{"url": "confirmed", "valueDate": "2025-11-03"}, {"url": "insurance", "valueCoding": {"code": "x"}}],
            "insurance: a code from",
        ),
    ],
)
def test_the_conformance_check_fails_a_broken_insurance_extension(client, chicago, parts, problem):
    location = fhir(client, f"Location/{chicago['listed'].practices.get().pk}")
    assert check(location) == []
    location["extension"] = [{"url": t.canonical("StructureDefinition", t.INSURANCE_EXTENSION), "extension": parts}]
    assert any(problem in error for error in check(location))
