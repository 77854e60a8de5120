"""The patient search JSON API: response shapes, errors, never a 500, and the OpenAPI schema."""

import datetime
import json
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from directory.models import Procedure, VolumeSource
from referral.filters import SpecialistFilterSet
from referral.forms import ApiSearchForm
from tests.api_schema import assert_matches_schema
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/search"
RESULT_KEYS = {
    "id",
    "npi",
    "name",
    "credentials",
    "specialty",
    "distance_miles",
    "score",
    "reasons",
    "facts",
    "practice",
    "accepting_new_patients",
    "telehealth",
    "verified_at",
    "services",
    "volumes",
    "url",
}


def specialist_at(zip_code="60614", city="Chicago", state="IL", **kwargs):
    return SpecialistFactory(practices=[PracticeFactory(zip_code=zip_code, city=city, state=state)], **kwargs)


def get(client, **params):
    return client.get(f"{SEARCH}?{urlencode(params, doseq=True)}")


def test_urls_are_named_as_the_contract_says():
    assert reverse("referral:api-search") == SEARCH
    assert reverse("referral:api-specialist", args=[7]) == "/api/v1/specialists/7"
    assert reverse("referral:api-schema") == "/api/v1/schema/"


def test_search_response_shape(client):
    year = timezone.localdate().year - 1
    specialist = specialist_at(offers_mis_si_fusion=True, first_name="Ada", last_name="Lovelace", credentials="MD")
    ProcedureVolumeFactory(
        specialist=specialist,
        period_start=datetime.date(year, 1, 1),
        period_end=datetime.date(year, 12, 31),
        count=34,
        verified=True,
    )
    response = get(client, zip="60611", radius=50)
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"origin", "radius", "count", "next", "results", "beyond_radius"}
    assert data["origin"] == {
        "zip": "60611",
        "city": "Chicago",
        "state": "IL",
        "latitude": pytest.approx(41.89, abs=0.05),
        "longitude": pytest.approx(-87.62, abs=0.05),
        "approximate": False,
    }
    assert (data["radius"], data["count"], data["next"], data["beyond_radius"]) == (50, 1, None, [])
    (result,) = data["results"]
    assert set(result) == RESULT_KEYS
    assert result["id"] == specialist.pk
    assert result["npi"] == specialist.npi
    assert (result["name"], result["credentials"], result["specialty"]) == ("Ada Lovelace", "MD", "orthopaedic_spine")
    assert 0 < result["distance_miles"] < 6
    assert 0 < result["score"] <= 100
    assert result["reasons"][0].startswith("34 minimally invasive SI-joint fusions in Jan–Dec")
    assert result["practice"] == {
        "name": specialist.practices.get().name,
        "address": specialist.practices.get().address_line1,
        "city": "Chicago",
        "state": "IL",
        "zip": "60614",
        "phone": "312-555-0100",
        "insurance": {"confirmed_on": None, "accepted": None},  # not known: null, never an empty list
        "phone_e164": "+13125550100",
    }
    assert result["services"] == ["offers_mis_si_fusion"]
    assert result["volumes"] == [
        {
            "procedure": "mis_si_fusion",
            "count": 34,
            "suppressed": False,
            "period_start": f"{year}-01-01",
            "period_end": f"{year}-12-31",
            "source": "self_reported",
            "verified": True,
            "past_year": True,
        }
    ]
    assert result["url"] == f"http://testserver/specialists/{specialist.pk}/"


def test_suppressed_count_is_null_not_zero(client):
    year = timezone.localdate().year - 1
    specialist = specialist_at()
    ProcedureVolumeFactory(
        specialist=specialist,
        procedure=Procedure.MIS_SI_FUSION,
        period_start=datetime.date(year, 1, 1),
        period_end=datetime.date(year, 12, 31),
        count=None,
        is_suppressed=True,
        source=VolumeSource.CMS_MEDICARE,
    )
    result = get(client, zip="60611").json()["results"][0]
    assert result["volumes"][0]["count"] is None
    assert result["volumes"][0]["suppressed"] is True
    assert any("not published by CMS Medicare (fewer than 11 patients)" in r for r in result["reasons"])


def test_next_link_pages_through_results(client):
    for _ in range(5):
        specialist_at()
    first = get(client, zip="60611", page_size=2).json()
    assert first["count"] == 5
    assert first["next"].startswith("http://testserver/api/v1/search?")
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    assert third["next"] is None
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert len(seen) == len(set(seen)) == 5


def test_beyond_radius_has_the_same_shape_and_distance(client):
    specialist_at("10001", "New York", "NY")
    data = get(client, zip="60611", radius=10).json()
    assert (data["count"], data["results"]) == (0, [])
    (beyond,) = data["beyond_radius"]
    assert set(beyond) == RESULT_KEYS
    assert beyond["distance_miles"] > 700


def test_api_accepts_any_radius_from_1_to_500(client):
    specialist_at("10001", "New York", "NY")
    assert get(client, zip="60611", radius="7.5").json()["radius"] == 7.5
    assert get(client, zip="60611", radius=500).json()["count"] == 0
    assert get(client, zip="60611", radius=500).json()["beyond_radius"][0]["distance_miles"] > 500


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({}, "zip", "Enter your 5-digit ZIP code."),
        ({"zip": "00000"}, "zip", "No such US ZIP: 00000"),
        ({"zip": "6061"}, "zip", "ZIP codes have 5 digits (or ZIP+4, like 60611-1234)."),
        ({"zip": "60611'; DROP TABLE x;--"}, "zip", "ZIP codes have 5 digits (or ZIP+4, like 60611-1234)."),
        ({"zip": "6" * 5000}, "zip", "ZIP codes have 5 digits (or ZIP+4, like 60611-1234)."),
        ({"zip": "60611", "radius": "0"}, "radius", "Radius must be a number of miles from 1 to 500."),
        ({"zip": "60611", "radius": "501"}, "radius", "Radius must be a number of miles from 1 to 500."),
        ({"zip": "60611", "radius": "nan"}, "radius", "Radius must be a number of miles from 1 to 500."),
        ({"zip": "60611", "radius": "inf"}, "radius", "Radius must be a number of miles from 1 to 500."),
        ({"zip": "60611", "radius": "1e999"}, "radius", "Radius must be a number of miles from 1 to 500."),
        ({"zip": "60611", "page": "0"}, "page", "Page must be a whole number from 1 to 100000."),
        ({"zip": "60611", "page": "-1"}, "page", "Page must be a whole number from 1 to 100000."),
        ({"zip": "60611", "page_size": "101"}, "page_size", "Page size must be a whole number from 1 to 100."),
        ({"zip": "60611", "page_size": "x"}, "page_size", "Page size must be a whole number from 1 to 100."),
        ({"zip": "60611", "sort": "price"}, "sort", "Sort by best or distance."),
        ({"zip": "60611", "service": "massage"}, "service", "Unknown service: massage."),
        ({"zip": "60611", "specialty": "dentistry"}, "specialty", "Unknown specialty: dentistry."),
        ({"zip": "60611", "telehealth": "perhaps"}, "telehealth", "Use true or false."),
        ({"zip": "60611", "accepting_new_patients": "2"}, "accepting_new_patients", "Use true or false."),
        ({"zip": "60611", "prior_lumbar_fusion": "maybe"}, "prior_lumbar_fusion", "Answer yes or no."),
        (
            {"zip": "60611", "conservative_months": "121"},
            "conservative_months",
            "Months of non-surgical care must be a whole number from 0 to 120.",
        ),
        (
            {"zip": "60611", "diagnostic_injection": "yes"},
            "diagnostic_injection",
            "Choose not_done, relieved or not_relieved.",
        ),
        ({"zip": "60611", "language": "x" * 51}, "language", "Language is too long."),
        (
            {"zip": "60611", "min_mis_fusions": "-3"},
            "min_mis_fusions",
            "Minimum past-year fusions must be a whole number from 0 to 10000.",
        ),
        ({"zip": "606\x0011"}, "zip", "Null characters are not allowed."),
    ],
)
def test_errors_name_the_field_in_plain_words(client, params, field, message):
    response = get(client, **params)
    assert response.status_code == 400
    assert response.json()["errors"][field] == [message]


def test_several_errors_at_once(client):
    errors = get(client, zip="00000", radius="9000", sort="worst").json()["errors"]
    assert set(errors) == {"zip", "radius", "sort"}


SEARCH_PARAMETERS = [*ApiSearchForm.base_fields, *SpecialistFilterSet.base_filters]
QUERY_KEYS = [*SEARCH_PARAMETERS, "junk", "zip[]", "%zz"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(QUERY_KEYS),
            st.one_of(st.text(max_size=30), st.sampled_from(["60611", "60611-1234", "1e9", "-0", "true", "NaN"])),
        ),
        max_size=8,
    )
)
def test_no_query_string_gives_a_500(client, params):
    response = client.get(f"{SEARCH}?{urlencode(params)}")
    assert response.status_code in (200, 400)
    data = response.json()
    assert ("errors" in data) == (response.status_code == 400)


@pytest.mark.parametrize("raw", ["zip=%FF%FE", "zip=60611&radius=%00", "zip=60611&page=99999999999999999999", "&&&=="])
def test_malformed_query_strings_get_json_answers(client, raw):
    response = client.get(f"{SEARCH}?{raw}")
    assert response.status_code in (200, 400)
    assert response["Content-Type"] == "application/json"


def test_only_get(client):
    response = client.post(SEARCH, {"zip": "60611"})
    assert response.status_code == 405
    assert response.json() == {"errors": {"method": ["POST is not allowed here; use GET."]}}


def test_query_count_is_constant(client, django_assert_num_queries):
    for _ in range(4):
        specialist_at()
    # the ZIP, the search index's stamp, the index itself (written since this process last read it: see
    # referral/resident.py), the page's index rows (specialists, practices, reasons), their practices'
    # insurance, their volumes
    with django_assert_num_queries(6):
        assert get(client, zip="60611").json()["count"] == 4
    for _ in range(10):
        specialist_at()
    with django_assert_num_queries(5):  # the ZIP now comes from this process's cache (referral/origins.py)
        assert get(client, zip="60611").json()["count"] == 14
    with django_assert_num_queries(4):  # and the index too, unchanged since
        assert get(client, zip="60611").json()["count"] == 14


# --- Profile ------------------------------------------------------------------------------------------


def test_profile_of_a_published_specialist(client):
    specialist = specialist_at(languages="English; Spanish", bio="Spine surgeon.")
    data = client.get(f"/api/v1/specialists/{specialist.pk}").json()
    assert data["id"] == specialist.pk
    assert data["languages"] == ["English", "Spanish"]
    assert data["practices"][0]["zip"] == "60614"
    assert data["match"] is None
    assert data["url"] == f"http://testserver/specialists/{specialist.pk}/"


def test_profile_with_zip_and_situation_explains_the_match(client):
    specialist = specialist_at(treats_post_lumbar_fusion=True)
    plain = client.get(f"/api/v1/specialists/{specialist.pk}?zip=60611").json()["match"]
    after_fusion = client.get(f"/api/v1/specialists/{specialist.pk}?zip=60611&prior_lumbar_fusion=yes").json()["match"]
    assert plain["origin"]["zip"] == "60611"
    assert 0 < plain["distance_miles"] < 6
    assert after_fusion["score"] > plain["score"]
    assert "Treats pain after lumbar fusion" in after_fusion["reasons"]


def test_profile_with_bad_zip_is_a_400(client):
    specialist = specialist_at()
    response = client.get(f"/api/v1/specialists/{specialist.pk}?zip=00000")
    assert response.status_code == 400
    assert response.json() == {"errors": {"zip": ["No such US ZIP: 00000"]}}


@pytest.mark.parametrize("published", [False, None])
def test_unpublished_or_missing_profiles_are_404_json(client, published):
    pk = specialist_at(is_published=False).pk if published is False else 999_999
    response = client.get(f"/api/v1/specialists/{pk}")
    assert response.status_code == 404
    assert response.json() == {"errors": {"id": [f"No published specialist with id {pk}."]}}


# --- Schema -------------------------------------------------------------------------------------------


def test_schema_is_openapi_3_with_every_filterset_parameter(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    parameters = schema["paths"]["/api/v1/search"]["get"]["parameters"]
    assert sorted(p["name"] for p in parameters) == sorted(SEARCH_PARAMETERS)
    by_name = {p["name"]: p for p in parameters}
    assert by_name["zip"]["required"] is True
    assert by_name["radius"]["schema"] == {"type": "number", "minimum": 1, "maximum": 500}
    assert by_name["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert by_name["diagnostic_injection"]["schema"]["enum"] == ["not_done", "relieved", "not_relieved"]
    assert by_name["service"]["schema"]["type"] == "array"


def test_schema_references_resolve_and_describe_the_real_response(client):
    schema = client.get("/api/v1/schema/").json()
    text = json.dumps(schema)
    for name in schema["components"]["schemas"]:
        assert f"#/components/schemas/{name}" in text or name == "Errors"
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert refs <= set(schema["components"]["schemas"])
    specialist_at()
    data = get(client, zip="60611").json()
    response_schema = schema["components"]["schemas"]["SearchResponse"]
    assert set(response_schema["required"]) == set(data)
    assert set(schema["components"]["schemas"]["Result"]["properties"]) == set(data["results"][0])


# --- Answers against the generated schema -------------------------------------------------------------


def test_search_answers_match_the_schema_in_every_field(client):
    year = timezone.localdate().year - 1
    specialist = specialist_at(offers_mis_si_fusion=True)
    ProcedureVolumeFactory(
        specialist=specialist, period_start=datetime.date(year, 1, 1), period_end=datetime.date(year, 12, 31)
    )
    specialist_at("10001", "New York", "NY")
    for query in ({"zip": "60611"}, {"zip": "60611", "radius": "7.5", "page_size": 1}):
        data = get(client, **query).json()
        assert_matches_schema(client, data, "SearchResponse")
    assert data["beyond_radius"] and data["beyond_radius"][0]["volumes"] == []


def test_profile_answers_match_the_schema_in_every_field(client):
    specialist = specialist_at(verified_at=timezone.now())
    ProcedureVolumeFactory(specialist=specialist)
    plain = client.get(f"/api/v1/specialists/{specialist.pk}").json()
    assert_matches_schema(client, plain, "Profile")
    matched = client.get(f"/api/v1/specialists/{specialist.pk}?zip=60611&conservative_months=3").json()
    assert_matches_schema(client, matched, "Profile")
    assert matched["match"]["origin"]["zip"] == "60611"


def test_error_answers_match_the_schema(client):
    assert_matches_schema(client, get(client, zip="00000").json(), "Errors")


def test_schema_states_the_limits_and_enums_of_every_result_field(client):
    components = client.get("/api/v1/schema/").json()["components"]["schemas"]
    result = components["Result"]["properties"]
    assert result["score"]["minimum"] == 0 and result["score"]["maximum"] == 100
    assert result["specialty"]["$ref"] == "#/components/schemas/SpecialtyEnum"
    assert result["services"]["items"]["$ref"] == "#/components/schemas/ServiceEnum"
    assert components["VolumeSourceEnum"]["enum"] == [value for value, _label in VolumeSource.choices]
    volume = components["Volume"]["properties"]
    assert volume["count"]["nullable"] is True and volume["past_year"]["type"] == "boolean"
    assert set(components["Volume"]["required"]) == set(volume)


def test_head_is_answered_like_get(client):
    specialist_at()
    assert client.head(f"{SEARCH}?zip=60611").status_code == 200


def test_schema_generates_without_warnings_and_validates(tmp_path):
    # drf-spectacular warns when it has to guess a type; --validate checks the document against OpenAPI 3.
    path = str(tmp_path / "schema.json")
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", path)
    assert json.loads((tmp_path / "schema.json").read_text())["info"]["title"] == "SIJ Finder API"


@pytest.mark.django_db
def test_a_zip_placed_at_its_city_centre_is_marked_approximate_on_the_page_and_in_the_api(client):
    api = get(client, zip="90085")  # Los Angeles: no location of its own in the ZIP data
    assert api.status_code == 200 and api.json()["origin"]["approximate"] is True
    page = client.get("/search/", {"zip": "90085"}).content.decode()
    assert "ZIP 90085 has no location of its own" in page and "so they are approximate" in page
