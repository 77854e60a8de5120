"""The public FHIR API: reads, searches, includes, paging, errors as OperationOutcome, rate limit."""

import datetime

import pytest
from django.utils import timezone

from directory.models import Specialty
from referral.fhir.definitions import ARTIFACTS
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory
from tests.fhir_validation import assert_conformant

pytestmark = pytest.mark.django_db
NPI = "http://hl7.org/fhir/sid/us-npi"
NUCC = "http://nucc.org/provider-taxonomy"


def get(client, path, status=200, **params):
    response = client.get(f"/fhir/{path}", params, HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    return response.json()


def ids(bundle, kind=None, mode="match"):
    return [
        e["resource"]["id"]
        for e in bundle["entry"]
        if e["search"]["mode"] == mode and (kind is None or e["resource"]["resourceType"] == kind)
    ]


@pytest.fixture
def chicago():
    near = PracticeFactory(name="Lakeshore Spine", zip_code="60611", phone="312-555-0199")
    far = PracticeFactory(name="Desert Spine", city="Phoenix", state="AZ", zip_code="85004", phone="")
    surgeon = SpecialistFactory(
        first_name="Ana", last_name="Alvarez", npi="1234567893", offers_mis_si_fusion=True, practices=[near]
    )
    physiatrist = SpecialistFactory(last_name="Brown", specialty=Specialty.PMR, npi=None, practices=[near, far])
    hidden = SpecialistFactory(last_name="Hidden", is_published=False, practices=[near])
    return {"near": near, "far": far, "surgeon": surgeon, "physiatrist": physiatrist, "hidden": hidden}


def test_metadata_is_an_r4_capability_statement_listing_the_searches(client):
    statement = get(client, "metadata")
    assert_conformant(statement)
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) >= {"Practitioner", "PractitionerRole", "Location", "Organization", "HealthcareService"}
    role = resources["PractitionerRole"]
    assert {p["name"] for p in role["searchParam"]} >= {"specialty", "practitioner", "location", "location.near"}
    assert "PractitionerRole:practitioner" in role["searchInclude"]
    assert any(p["name"] == "near" for p in resources["Location"]["searchParam"])


@pytest.mark.parametrize("kind", ["Practitioner", "PractitionerRole", "Location", "Organization", "HealthcareService"])
def test_every_search_result_is_conformant_and_unpublished_profiles_never_appear(client, chicago, kind):
    bundle = get(client, kind, _count=50)
    assert_conformant(bundle)
    assert bundle["type"] == "searchset"
    assert bundle["total"] == len(ids(bundle)) > 0
    assert "Hidden" not in str(bundle)


def test_read_each_kind_and_tombstones(client, chicago):
    surgeon, near = chicago["surgeon"], chicago["near"]
    for path in (
        f"Practitioner/{surgeon.pk}",
        f"PractitionerRole/{surgeon.pk}-{near.pk}",
        f"HealthcareService/{surgeon.pk}-{near.pk}",
        f"Location/{near.pk}",
        f"Organization/{near.pk}",
    ):
        resource = get(client, path)
        assert_conformant(resource)
        assert f"{resource['resourceType']}/{resource['id']}" == path
    outcome = get(client, f"Practitioner/{chicago['hidden'].pk}", status=404)
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "not-found"
    surgeon.is_published = False
    surgeon.save()
    gone = get(client, f"Practitioner/{surgeon.pk}", status=410)
    assert gone["issue"][0]["code"] == "deleted"
    assert get(client, f"PractitionerRole/{surgeon.pk}-{near.pk}", status=410)["resourceType"] == "OperationOutcome"
    assert get(client, "Patient/1", status=404)["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"identifier": f"{NPI}|1234567893"}, ["surgeon"]),
        ({"identifier": "1234567893"}, ["surgeon"]),
        ({"name": "alv"}, ["surgeon"]),
        ({"name:exact": "alv"}, []),
        ({"family": "Brown"}, ["physiatrist"]),
        ({"name": "zzz"}, []),
    ],
)
def test_practitioner_search_parameters(client, chicago, params, expected):
    bundle = get(client, "Practitioner", **params)
    assert ids(bundle) == [str(chicago[name].pk) for name in expected]


def test_practitioner_role_searches_by_specialty_practitioner_location_and_organization(client, chicago):
    surgeon, physiatrist, near, far = (chicago[k] for k in ("surgeon", "physiatrist", "near", "far"))
    pmr = get(client, "PractitionerRole", specialty=f"{NUCC}|208100000X")
    assert sorted(ids(pmr)) == sorted([f"{physiatrist.pk}-{near.pk}", f"{physiatrist.pk}-{far.pk}"])
    assert ids(get(client, "PractitionerRole", practitioner=f"Practitioner/{surgeon.pk}")) == [
        f"{surgeon.pk}-{near.pk}"
    ]
    assert ids(get(client, "PractitionerRole", location=str(far.pk))) == [f"{physiatrist.pk}-{far.pk}"]
    at_near = get(client, "PractitionerRole", organization=f"Organization/{near.pk}")
    assert sorted(ids(at_near)) == sorted([f"{surgeon.pk}-{near.pk}", f"{physiatrist.pk}-{near.pk}"])
    both = get(client, "PractitionerRole", specialty=f"{NUCC}|208100000X,{NUCC}|207XS0117X")
    assert both["total"] == 3
    assert get(client, "PractitionerRole", specialty="http://example.org/other|208100000X")["total"] == 0


def test_includes_bring_the_linked_resources_once(client, chicago):
    bundle = get(
        client,
        "PractitionerRole",
        location=str(chicago["near"].pk),
        _include=[
            "PractitionerRole:practitioner",
            "PractitionerRole:location",
            "PractitionerRole:organization",
            "PractitionerRole:service",
        ],
    )
    assert_conformant(bundle)
    assert sorted(ids(bundle, "Practitioner", "include")) == sorted(
        [str(chicago["surgeon"].pk), str(chicago["physiatrist"].pk)]
    )
    assert ids(bundle, "Location", "include") == [str(chicago["near"].pk)]
    assert ids(bundle, "Organization", "include") == [str(chicago["near"].pk)]
    assert ids(bundle, "HealthcareService", "include") == [f"{chicago['surgeon'].pk}-{chicago['near'].pk}"]


def test_revinclude_brings_the_roles_of_a_location(client, chicago):
    bundle = get(client, "Location", _id=str(chicago["far"].pk), _revinclude="PractitionerRole:location")
    assert_conformant(bundle)
    assert ids(bundle, "PractitionerRole", "include") == [f"{chicago['physiatrist'].pk}-{chicago['far'].pk}"]


def test_location_near_finds_nearest_first_and_role_location_near_chains(client, chicago):
    # Chicago, the Magnificent Mile: 60611's practice is within 10 miles, Phoenix is not.
    bundle = get(client, "Location", near="41.8947|-87.6205|10|[mi_i]")
    assert ids(bundle) == [str(chicago["near"].pk)]
    wide = get(client, "Location", near="41.8947|-87.6205|400|km")  # Phoenix is about 2,300 km away
    assert ids(wide) == [str(chicago["near"].pk)]
    assert ids(get(client, "Location", near="37|-100|250|[mi_i]")) == []
    roles = get(client, "PractitionerRole", **{"location.near": "33.45|-112.07|20|[mi_i]"})
    assert ids(roles) == [f"{chicago['physiatrist'].pk}-{chicago['far'].pk}"]


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("Location", {"near": "0|0|10|km"}, "near"),
        ("Location", {"near": "51.5|-0.12|10|km"}, "near"),  # London
        ("Location", {"near": "41.9|-87.6|10|furlongs"}, "near"),
        ("Location", {"near": "north|-87.6"}, "near"),
        ("Location", {"near": "41.9|-87.6|5000|km"}, "near"),
        ("PractitionerRole", {"location.near": "0|0"}, "location.near"),
        ("Location", {"address-postalcode": "00000"}, "address-postalcode"),  # no such ZIP
        ("Location", {"address-postalcode": "6061"}, "address-postalcode"),
        ("Practitioner", {"colour": "blue"}, "colour"),
        ("Practitioner", {"_lastUpdated": "yesterday"}, "_lastUpdated"),
        ("Practitioner", {"_count": "lots"}, "_count"),
        ("Practitioner", {"_count": "1000"}, "_count"),
        ("Practitioner", {"_include": "PractitionerRole:practitioner"}, "_include"),
        ("PractitionerRole", {"practitioner": "Location/3"}, "practitioner"),
        ("PractitionerRole", {"specialty:text": "spine"}, "specialty:text"),
        ("Practitioner", {"name:fuzzy": "x"}, "name:fuzzy"),
    ],
)
def test_bad_parameters_get_an_operation_outcome_400_naming_them(client, path, params, param):
    outcome = get(client, path, status=400, **params)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [param]
    assert param.split(":")[0] in outcome["issue"][0]["diagnostics"]


def test_paging_states_the_total_and_follows_next_links(client):
    practice = PracticeFactory()
    created = sorted(str(SpecialistFactory(practices=[practice]).pk) for _ in range(5))
    page = get(client, "Practitioner", _count=2)
    seen = []
    while True:
        assert page["total"] == 5
        seen += ids(page)
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        page = client.get(following[0].removeprefix("http://testserver")).json()
    assert sorted(seen) == created and len(seen) == 5
    assert get(client, "Practitioner", _count=0)["entry"] == []


def test_last_updated_filters_by_the_time_of_the_change(client):
    old = SpecialistFactory()
    new = SpecialistFactory()
    long_ago = timezone.now() - datetime.timedelta(days=400)
    type(old).objects.filter(pk=old.pk).update(updated_at=long_ago)
    type(old.practices.get()).objects.filter(pk=old.practices.get().pk).update(updated_at=long_ago)
    cutoff = (timezone.now() - datetime.timedelta(days=30)).date().isoformat()
    assert ids(get(client, "Practitioner", _lastUpdated=f"ge{cutoff}")) == [str(new.pk)]
    assert ids(get(client, "Practitioner", _lastUpdated=f"lt{cutoff}")) == [str(old.pk)]
    roles = get(client, "PractitionerRole", _lastUpdated=f"lt{cutoff}")
    assert ids(roles) == [f"{old.pk}-{old.practices.get().pk}"]
    assert get(client, "Practitioner", _lastUpdated=f"ge{cutoff}")["entry"][0]["resource"]["meta"]["lastUpdated"]


def test_healthcare_service_search_by_service_type(client, chicago):
    code = "http://127.0.0.1:8000/fhir/CodeSystem/sij-services|mis-si-fusion"
    bundle = get(client, "HealthcareService", **{"service-type": code})
    assert ids(bundle) == [f"{chicago['surgeon'].pk}-{chicago['near'].pk}"]
    assert get(client, "HealthcareService", **{"service-type": "open-si-fusion"})["total"] == 0


@pytest.mark.parametrize(("kind", "artifact_id"), list(ARTIFACTS))
def test_code_systems_and_extensions_are_served_at_their_canonical_urls(client, settings, kind, artifact_id):
    settings.SIJ_SITE_URL = "http://testserver"
    resource = get(client, f"{kind}/{artifact_id}")
    assert_conformant(resource)
    assert resource["url"] == f"http://testserver/fhir/{kind}/{artifact_id}"
    found = get(client, kind, url=resource["url"])
    assert ids(found) == [artifact_id]


def test_content_negotiation(client):
    plain = client.get("/fhir/metadata", HTTP_ACCEPT="application/json")
    assert plain["Content-Type"].startswith("application/json")
    assert client.get("/fhir/metadata", {"_format": "json"})["Content-Type"].startswith("application/fhir+json")
    refused = client.get("/fhir/metadata", {"_format": "xml"})
    assert refused.status_code == 406
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/metadata", HTTP_ACCEPT="application/fhir+xml").status_code == 406


def test_writes_are_refused_with_an_operation_outcome(client):
    response = client.post("/fhir/Practitioner", {}, content_type="application/fhir+json")
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"


def test_rate_limit_answers_429_with_retry_after(client, settings):
    settings.SIJ_RATE_FHIR = "3/min"
    for _ in range(3):
        assert client.get("/fhir/metadata").status_code == 200
    throttled = client.get("/fhir/Practitioner")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["issue"][0]["code"] == "throttled"


def test_role_of_a_specialist_without_phone_or_website_links_the_directory_page(client):
    today = timezone.localdate()
    specialist = SpecialistFactory(website="", specialty=Specialty.OTHER, practices=[PracticeFactory(phone="")])
    ProcedureVolumeFactory(
        specialist=specialist,
        period_start=today - datetime.timedelta(days=380),
        period_end=today - datetime.timedelta(days=16),
    )
    role = get(client, f"PractitionerRole/{specialist.pk}-{specialist.practices.get().pk}")
    assert_conformant(role)
    assert role["telecom"][0]["value"].endswith(f"/specialists/{specialist.pk}/")
    assert any(e["url"].endswith("sij-past-year-volume") for e in role["extension"])


def test_lenient_handling_ignores_unknown_parameters_and_leaves_them_out_of_the_links(client, chicago):
    response = client.get(
        "/fhir/Practitioner",
        {"family": "Brown", "colour": "blue", "_total": "accurate"},
        HTTP_PREFER="handling=lenient",
    )
    assert response.status_code == 200
    bundle = response.json()
    assert ids(bundle) == [str(chicago["physiatrist"].pk)]
    assert "colour" not in bundle["link"][0]["url"] and "family=Brown" in bundle["link"][0]["url"]
    assert client.get("/fhir/PractitionerRole", {"role": "ph"}).json()["total"] == 3
    assert client.get("/fhir/PractitionerRole", {"role": "nurse"}).json()["total"] == 0
