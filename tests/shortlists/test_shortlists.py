"""Shortlist pages: sign-in, owner-only access, adding from search, editing, share links."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from shortlists.models import ShareLink, Shortlist, ShortlistItem
from tests.factories import (
    CuratorFactory,
    PhysicianFactory,
    PracticeFactory,
    ProcedureVolumeFactory,
    ShortlistFactory,
    SpecialistFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SEARCH_QUERY = "zip=60611&radius=50&prior_lumbar_fusion=yes&conservative_months=8"


@pytest.fixture
def physician():
    return PhysicianFactory()


@pytest.fixture
def physician_client(client, physician):
    client.force_login(physician)
    return client


@pytest.fixture
def shortlist(physician):
    return ShortlistFactory(owner=physician, specialists=[SpecialistFactory(), SpecialistFactory()])


def shortlist_urls(shortlist):
    """Every URL that touches one shortlist, with the method that uses it."""
    pk, item_pk = shortlist.pk, shortlist.items.first().pk
    link, _token = ShareLink.create_for(shortlist)
    return [
        ("get", reverse("shortlists:shortlist-detail", args=[pk]), {}),
        ("post", reverse("shortlists:shortlist-rename", args=[pk]), {"title": "Mine now"}),
        ("get", reverse("shortlists:shortlist-delete", args=[pk]), {}),
        ("post", reverse("shortlists:shortlist-delete", args=[pk]), {}),
        ("post", reverse("shortlists:shortlist-item-move", args=[pk, item_pk]), {"direction": "down"}),
        ("post", reverse("shortlists:shortlist-item-note", args=[pk, item_pk]), {f"item{item_pk}-note": "x"}),
        ("post", reverse("shortlists:shortlist-item-remove", args=[pk, item_pk]), {}),
        ("post", reverse("shortlists:shortlist-share", args=[pk]), {}),
        ("post", reverse("shortlists:shortlist-share-revoke", args=[pk, link.pk]), {}),
        ("get", reverse("shortlists:shortlist-export-csv", args=[pk]), {}),
        ("get", reverse("shortlists:shortlist-export-pdf", args=[pk]), {}),
        ("get", reverse("shortlists:shortlist-export-fhir", args=[pk]), {}),
    ]


URL_COUNT = 12


def unchanged(shortlist):
    shortlist.refresh_from_db()
    items = list(shortlist.items.values_list("specialist_id", "position", "note"))
    return shortlist.title, items, shortlist.share_links.filter(revoked_at__isnull=True).count()


@pytest.mark.parametrize("index", range(URL_COUNT))
def test_anonymous_visitor_is_sent_to_sign_in(client, shortlist, index):
    method, url, data = shortlist_urls(shortlist)[index]
    before = unchanged(shortlist)
    response = getattr(client, method)(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert unchanged(shortlist) == before


@pytest.mark.parametrize("who", ["another physician", "curator", "superuser"])
@pytest.mark.parametrize("index", range(URL_COUNT))
def test_nobody_but_the_owner_reaches_a_shortlist(client, shortlist, index, who):
    intruder = {
        "another physician": PhysicianFactory,
        "curator": CuratorFactory,
        "superuser": lambda: UserFactory(is_staff=True, is_superuser=True),
    }[who]()
    client.force_login(intruder)
    method, url, data = shortlist_urls(shortlist)[index]
    before = unchanged(shortlist)
    response = getattr(client, method)(url, data)
    assert response.status_code == 404
    assert unchanged(shortlist) == before
    assert shortlist.title.encode() not in response.content


@pytest.mark.parametrize("index", range(URL_COUNT))
def test_owner_reaches_every_shortlist_url(physician_client, shortlist, index):
    method, url, data = shortlist_urls(shortlist)[index]
    response = getattr(physician_client, method)(url, data)
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("name", ["shortlist-list", "shortlist-create", "api-token"])
def test_physician_only_pages_refuse_other_signed_in_users(client, name):
    client.force_login(CuratorFactory())
    assert client.get(reverse(f"shortlists:{name}")).status_code == 403


def test_list_shows_only_my_shortlists(physician_client, physician, shortlist):
    theirs = ShortlistFactory(title="Somebody else's list")
    response = physician_client.get(reverse("shortlists:shortlist-list"))
    assert shortlist.title in response.content.decode()
    assert theirs.title not in response.content.decode()
    assert "2 specialists" in response.content.decode()


def test_curator_cannot_read_shortlists_in_the_admin(client, shortlist):
    client.force_login(CuratorFactory())
    assert client.get("/admin/referral/shortlist/").status_code == 404
    assert client.get("/admin/referral/shortlistitem/").status_code == 404
    index = client.get("/admin/").content.decode()
    assert "Shortlist" not in index


# --- Adding from search -----------------------------------------------------------------------------


def add(client, specialist, shortlist="new", follow=False, **extra):
    data = {"specialist": specialist.pk, "shortlist": shortlist, "query": SEARCH_QUERY, "next": "/search/?zip=60611"}
    return client.post(reverse("shortlists:shortlist-add"), {**data, **extra}, follow=follow)


def test_adding_to_a_new_list_keeps_the_search_but_recomputes_distance_and_reasons(physician_client, physician):
    near = PracticeFactory(zip_code="60611")
    far = PracticeFactory(zip_code="60201")  # Evanston, about 12 miles north
    specialist = SpecialistFactory(practices=[far, near], treats_post_lumbar_fusion=True)
    ProcedureVolumeFactory(specialist=specialist, count=34)

    response = add(physician_client, specialist, reasons="Best surgeon in the world", distance_miles="0.0")

    assert response.status_code == 302 and response["Location"] == "/search/?zip=60611"
    shortlist = Shortlist.objects.get(owner=physician)
    assert (shortlist.origin_zip, shortlist.radius_miles) == ("60611", 50)
    assert shortlist.situation == {"prior_lumbar_fusion": True, "conservative_months": 8, "diagnostic_injection": None}
    item = shortlist.items.get()
    assert item.practice == near
    assert item.distance_miles < 1
    assert "Best surgeon in the world" not in item.reasons
    assert any("34" in reason for reason in item.reasons)
    assert any("34" in fact for fact in item.facts)


def test_adding_to_an_existing_list_appends_once(physician_client, physician, shortlist):
    specialist = SpecialistFactory()
    add(physician_client, specialist, shortlist=shortlist.pk)
    add(physician_client, specialist, shortlist=shortlist.pk)
    assert list(shortlist.items.values_list("position", flat=True)) == [0, 1, 2]
    assert shortlist.items.last().specialist == specialist


def test_cannot_add_to_another_physicians_list(physician_client, physician):
    theirs = ShortlistFactory()
    response = add(physician_client, SpecialistFactory(), shortlist=theirs.pk)
    assert response.status_code == 302
    assert not theirs.items.exists()
    assert not Shortlist.objects.filter(owner=physician).exists()


def test_cannot_add_an_unpublished_specialist(physician_client, physician):
    add(physician_client, SpecialistFactory(is_published=False))
    assert not ShortlistItem.objects.exists()


def test_add_with_an_invalid_search_explains_and_adds_nothing(physician_client):
    response = add(physician_client, SpecialistFactory(), query="zip=00000", follow=True)
    assert not ShortlistItem.objects.exists()
    assert "search again" in response.content.decode()


def test_add_never_redirects_off_site(physician_client):
    response = add(physician_client, SpecialistFactory(), next="https://evil.example/")
    assert response["Location"] == reverse("shortlists:shortlist-list")


def test_search_results_offer_the_add_form_only_to_physicians(client, physician):
    SpecialistFactory(last_name="Findable")
    anonymous = client.get(f"/search/?{SEARCH_QUERY}").content.decode()
    assert "Findable" in anonymous and "Add to shortlist" not in anonymous
    ShortlistFactory(owner=physician, title="Mrs list for knees")
    client.force_login(physician)
    signed_in = client.get(f"/search/?{SEARCH_QUERY}").content.decode()
    assert "Add to shortlist" in signed_in
    assert "Mrs list for knees" in signed_in
    assert 'name="query" value="zip=60611' in signed_in


# --- Editing ----------------------------------------------------------------------------------------


def names(shortlist):
    return [item.specialist.last_name for item in shortlist.items.select_related("specialist")]


def test_reorder_with_up_and_down_buttons(physician_client, physician):
    a, b, c = (SpecialistFactory(last_name=name) for name in "ABC")
    shortlist = ShortlistFactory(owner=physician, specialists=[a, b, c])
    item_c = shortlist.items.get(specialist=c)
    url = reverse("shortlists:shortlist-item-move", args=[shortlist.pk, item_c.pk])
    physician_client.post(url, {"direction": "up"})
    assert names(shortlist) == ["A", "C", "B"]
    physician_client.post(url, {"direction": "up"})
    physician_client.post(url, {"direction": "up"})  # already first: stays first
    assert names(shortlist) == ["C", "A", "B"]
    physician_client.post(url, {"direction": "down"})
    assert names(shortlist) == ["A", "C", "B"]


def test_annotate_rename_remove_and_delete(physician_client, shortlist):
    item = shortlist.items.first()
    physician_client.post(
        reverse("shortlists:shortlist-item-note", args=[shortlist.pk, item.pk]),
        {f"item{item.pk}-note": "Call Tuesdays"},
    )
    item.refresh_from_db()
    assert item.note == "Call Tuesdays"

    physician_client.post(reverse("shortlists:shortlist-rename", args=[shortlist.pk]), {"title": "Back pain, 60611"})
    shortlist.refresh_from_db()
    assert shortlist.title == "Back pain, 60611"
    page = physician_client.get(shortlist.get_absolute_url()).content.decode()
    assert "Back pain, 60611" in page and "Call Tuesdays" in page

    physician_client.post(reverse("shortlists:shortlist-item-remove", args=[shortlist.pk, item.pk]))
    assert shortlist.items.count() == 1

    physician_client.post(reverse("shortlists:shortlist-delete", args=[shortlist.pk]))
    assert not Shortlist.objects.filter(pk=shortlist.pk).exists()


def test_rename_to_blank_is_refused(physician_client, shortlist):
    title = shortlist.title
    response = physician_client.post(
        reverse("shortlists:shortlist-rename", args=[shortlist.pk]), {"title": ""}, follow=True
    )
    shortlist.refresh_from_db()
    assert shortlist.title == title
    assert "This field is required." in response.content.decode()


def test_detail_page_queries_do_not_grow_with_items(physician_client, physician, django_assert_max_num_queries):
    shortlist = ShortlistFactory(owner=physician, specialists=[SpecialistFactory() for _ in range(10)])
    with django_assert_max_num_queries(14):
        response = physician_client.get(shortlist.get_absolute_url())
    assert response.content.decode().count('class="card shortlist-item"') == 10


# --- Share links ------------------------------------------------------------------------------------


def test_share_link_shows_the_list_read_only_without_the_owner(physician_client, physician, shortlist):
    physician.first_name, physician.last_name = "Gregory", "Owner"
    physician.save()
    item = shortlist.items.first()
    item.note = "Mention your hip pain"
    item.save()
    response = physician_client.post(reverse("shortlists:shortlist-share", args=[shortlist.pk]))
    url = response.context["url"]
    assert url.startswith("http://testserver/shortlists/shared/")

    physician_client.logout()
    shared = physician_client.get(url)
    page = shared.content.decode()
    assert shared.status_code == 200
    assert shortlist.title in page
    for listed in shortlist.items.all():
        assert listed.specialist.display_name in page
    assert "Mention your hip pain" in page
    assert "Not medical advice" in page
    for secret in ("Gregory", "Owner", physician.email, physician.username):
        assert secret not in page
    assert "<form" not in page.split('id="main"')[1]  # read-only: no forms in the page body


def test_share_link_expires(client, shortlist):
    link, token = ShareLink.create_for(shortlist)
    assert link.expires_at - timezone.now() > datetime.timedelta(days=29)
    link.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    link.save()
    response = client.get(reverse("shortlists:shortlist-shared", args=[token]))
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert shortlist.title not in response.content.decode()


def test_share_link_days_come_from_settings(settings, shortlist):
    settings.SIJ_SHARE_LINK_DAYS = 3
    link, _token = ShareLink.create_for(shortlist)
    assert datetime.timedelta(days=2) < link.expires_at - timezone.now() <= datetime.timedelta(days=3)


def test_revoked_share_link_stops_working(physician_client, shortlist):
    link, token = ShareLink.create_for(shortlist)
    url = reverse("shortlists:shortlist-shared", args=[token])
    assert physician_client.get(url).status_code == 200
    physician_client.post(reverse("shortlists:shortlist-share-revoke", args=[shortlist.pk, link.pk]))
    response = physician_client.get(url)
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()


@pytest.mark.parametrize("tamper", [lambda t: t[:-1], lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "x"])
def test_tampered_share_link_is_not_found(client, shortlist, tamper):
    _link, token = ShareLink.create_for(shortlist)
    response = client.get(reverse("shortlists:shortlist-shared", args=[tamper(token)]))
    assert response.status_code == 404
    assert shortlist.title not in response.content.decode()


def test_share_token_is_stored_only_as_a_hash(shortlist):
    link, token = ShareLink.create_for(shortlist)
    assert token not in link.token_hash and len(token) >= 40


def test_shared_page_leaves_out_unpublished_specialists(client, shortlist):
    hidden = shortlist.items.first().specialist
    hidden.is_published = False
    hidden.save()
    _link, token = ShareLink.create_for(shortlist)
    page = client.get(reverse("shortlists:shortlist-shared", args=[token])).content.decode()
    assert hidden.display_name not in page
    assert shortlist.items.last().specialist.display_name in page
