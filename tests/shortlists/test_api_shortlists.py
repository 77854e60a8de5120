"""The shortlist API: token and session auth, CRUD, owner-only access, validation errors."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from shortlists.models import ApiToken, Shortlist
from tests.factories import (
    CuratorFactory,
    PhysicianFactory,
    ProcedureVolumeFactory,
    ShortlistFactory,
    SpecialistFactory,
)

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/shortlists"


@pytest.fixture
def physician():
    return PhysicianFactory()


@pytest.fixture
def api(physician):
    """A client that sends the physician's API token (and no session)."""
    return Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(physician)}")


def send(client, method, url, body=None, **extra):
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method)(url, data=data, content_type="application/json", **extra)


def test_create_read_update_delete(api, physician):
    first, second = SpecialistFactory(), SpecialistFactory(npi="1234567893")
    ProcedureVolumeFactory(specialist=first, count=21)
    body = {
        "title": "Patient 7, right SI joint",
        "origin_zip": "60611-1234",
        "situation": {"prior_lumbar_fusion": True, "conservative_months": 7, "diagnostic_injection": "relieved"},
        "items": [{"specialist": first.pk, "note": "First choice"}, {"specialist": "1234567893"}],
    }
    created = send(api, "post", LIST_URL, body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert created["Location"] == f"http://testserver{LIST_URL}/{data['id']}"
    assert data["origin_zip"] == "60611"
    assert data["situation"] == body["situation"]
    assert [item["specialist"]["id"] for item in data["items"]] == [first.pk, second.pk]
    assert data["items"][0]["note"] == "First choice"
    assert data["items"][0]["distance_miles"] < 1
    assert any("21" in reason for reason in data["items"][0]["reasons"])  # computed by the server
    assert Shortlist.objects.get().owner == physician

    url = f"{LIST_URL}/{data['id']}"
    assert send(api, "get", url).json() == data
    listing = send(api, "get", LIST_URL).json()
    assert listing["count"] == 1 and listing["results"][0]["item_count"] == 2

    patched = send(api, "patch", url, {"title": "Renamed", "items": [{"specialist": second.pk, "note": "Now first"}]})
    assert patched.status_code == 200
    assert patched.json()["title"] == "Renamed"
    assert [(i["specialist"]["id"], i["note"]) for i in patched.json()["items"]] == [(second.pk, "Now first")]
    assert patched.json()["situation"] == body["situation"]  # untouched fields stay

    assert send(api, "delete", url).status_code == 204
    assert send(api, "get", url).status_code == 404
    assert not Shortlist.objects.exists()


def test_patch_reorders_and_keeps_what_was_captured(api, physician):
    a, b = SpecialistFactory(), SpecialistFactory()
    shortlist = ShortlistFactory(owner=physician, specialists=[a, b])
    reasons = shortlist.items.get(specialist=a).reasons
    response = send(api, "patch", f"{LIST_URL}/{shortlist.pk}", {"items": [{"specialist": b.pk}, {"specialist": a.pk}]})
    items = response.json()["items"]
    assert [item["specialist"]["id"] for item in items] == [b.pk, a.pk]
    assert items[1]["reasons"] == reasons


def test_patch_of_the_origin_recomputes_distances(api, physician):
    shortlist = ShortlistFactory(owner=physician, specialists=[SpecialistFactory()])
    assert shortlist.items.get().distance_miles < 1
    response = send(api, "patch", f"{LIST_URL}/{shortlist.pk}", {"origin_zip": "60201"})
    assert response.json()["items"][0]["distance_miles"] > 8


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"origin_zip": "60611"}, "title", "This field is required."),
        ({"title": "T", "origin_zip": "00000"}, "origin_zip", "No such US ZIP: 00000"),
        ({"title": "T", "origin_zip": "abc"}, "origin_zip", "ZIP codes have 5 digits"),
        ({"title": "T", "situation": {"conservative_months": 500}}, "situation.conservative_months", ""),
        ({"title": "T", "situation": {"diagnostic_injection": "maybe"}}, "situation.diagnostic_injection", ""),
        ({"title": "T", "situation": {"name": "Jane Doe"}}, "situation", "Unknown key: name"),
        ({"title": "T", "situation": "fusion"}, "situation", "Give the situation as an object."),
        ({"title": "T", "items": [{"specialist": 999999}]}, "items", "no published specialist"),
        ({"title": "T", "items": [{"note": "x"}]}, "items", "Item 1"),
        ({"title": "T", "items": "all"}, "items", "Give the items as a list."),
        ({"title": "T", "patient_name": "Jane Doe"}, "patient_name", "Unknown field."),
        ([1, 2], "body", "Send a JSON object."),
    ],
)
def test_invalid_bodies_get_400_naming_the_field_and_change_nothing(api, body, field, message):
    response = send(api, "post", LIST_URL, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors
    assert message in " ".join(errors[field])
    assert not Shortlist.objects.exists()


def test_malformed_json_is_a_400(api):
    response = api.post(LIST_URL, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"errors": {"body": ["Send a JSON object."]}}


def test_duplicate_and_unpublished_specialists_are_refused(api):
    specialist, hidden = SpecialistFactory(), SpecialistFactory(is_published=False)
    body = {
        "title": "T",
        "items": [{"specialist": specialist.pk}, {"specialist": specialist.pk}, {"specialist": hidden.pk}],
    }
    errors = send(api, "post", LIST_URL, body).json()["errors"]["items"]
    assert any("already on the list" in error for error in errors)
    assert any(str(hidden.pk) in error for error in errors)


def shortlist_routes(pk):
    return [
        ("get", f"{LIST_URL}/{pk}", None),
        ("patch", f"{LIST_URL}/{pk}", {"title": "Taken over"}),
        ("delete", f"{LIST_URL}/{pk}", None),
    ]


@pytest.mark.parametrize("index", range(3))
def test_another_physician_gets_404_on_every_route(index):
    shortlist = ShortlistFactory(specialists=[SpecialistFactory()])
    intruder = Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(PhysicianFactory())}")
    method, url, body = shortlist_routes(shortlist.pk)[index]
    response = send(intruder, method, url, body)
    assert response.status_code == 404
    assert response.json() == {"errors": {"shortlist": ["Not found."]}}
    shortlist.refresh_from_db()
    assert shortlist.title != "Taken over" and shortlist.items.count() == 1


def test_list_shows_only_my_shortlists(api, physician):
    ShortlistFactory(owner=physician, title="Mine")
    ShortlistFactory(title="Theirs")
    assert [s["title"] for s in send(api, "get", LIST_URL).json()["results"]] == ["Mine"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_curator_is_refused(method):
    client = Client()
    client.force_login(CuratorFactory())
    response = send(client, method, LIST_URL, {"title": "T"} if method == "post" else None)
    assert response.status_code == 403
    shortlist = ShortlistFactory()
    assert send(client, "get", f"{LIST_URL}/{shortlist.pk}").status_code == 404


@pytest.mark.parametrize("header", [None, "Token nope", "Bearer abc", "Token "])
def test_missing_or_bad_token_is_401(header):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = send(client, "get", LIST_URL)
    assert response.status_code == 401
    assert "authorization" in response.json()["errors"]


def test_replacing_a_token_revokes_the_old_one(physician):
    old = ApiToken.issue(physician)
    new = ApiToken.issue(physician)
    assert send(Client(HTTP_AUTHORIZATION=f"Token {old}"), "get", LIST_URL).status_code == 401
    assert send(Client(HTTP_AUTHORIZATION=f"Token {new}"), "get", LIST_URL).status_code == 200


def test_session_auth_needs_the_csrf_token_for_changes(physician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(physician)
    assert send(client, "get", LIST_URL).status_code == 200
    refused = send(client, "post", LIST_URL, {"title": "T"})
    assert refused.status_code == 403 and "csrf" in refused.json()["errors"]
    assert not Shortlist.objects.exists()

    client.get(reverse("shortlists:shortlist-list"))  # the page sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    accepted = send(client, "post", LIST_URL, {"title": "T"}, HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_token_requests_need_no_csrf(physician):
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {ApiToken.issue(physician)}")
    assert send(client, "post", LIST_URL, {"title": "T"}).status_code == 201


def test_wrong_method_is_a_405_with_allow(api):
    response = send(api, "put", LIST_URL, {"title": "T"})
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"


def test_api_token_page_shows_a_new_token_once(client, physician):
    client.force_login(physician)
    response = client.post(reverse("shortlists:api-token"))
    key = response.context["key"]
    assert key in response.content.decode()
    assert key not in client.get(reverse("shortlists:api-token")).content.decode()
    assert send(Client(HTTP_AUTHORIZATION=f"Token {key}"), "get", LIST_URL).status_code == 200


def test_openapi_schema_documents_the_shortlist_routes(client):
    schema = client.get(reverse("referral:api-schema")).json()
    assert set(schema["paths"]["/api/v1/shortlists"]) == {"get", "post"}
    assert set(schema["paths"]["/api/v1/shortlists/{id}"]) == {"get", "patch", "delete"}
    assert "token" in schema["components"]["securitySchemes"]
    refs = json.dumps(schema["paths"]["/api/v1/shortlists/{id}"])
    # PATCH takes the same body with every key optional: drf-spectacular calls it PatchedShortlistInput.
    for name in ("Shortlist", "PatchedShortlistInput", "Errors"):
        assert f"#/components/schemas/{name}" in refs and name in schema["components"]["schemas"]
    assert "#/components/schemas/ShortlistInput" in json.dumps(schema["paths"]["/api/v1/shortlists"]["post"])
