"""Moving the physicians' models from `referral` to `shortlists` keeps every row, owner, token and permission.

A database at the migrations of the last release (referral 0004, before the move) is filled through the
historical models, migrated forward, and then used through today's code: pages, share links, API tokens,
account requests and the curators' permissions all still work.
"""

import datetime
import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from shortlists.authentication import ApiTokenAuthentication
from shortlists.models import AccountRequest, ShareLink, Shortlist, ShortlistItem

BEFORE_MOVE = ("referral", "0004_search_entry_page_text")
SHARE_TOKEN = "share-token-from-before-the-move"
API_KEY = "api-key-from-before-the-move"
MOVED = ["shortlist", "shortlistitem", "sharelink", "apitoken", "accountrequest"]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def state_before_move(executor):
    """The models as the last release had them (other apps as they are now: only the move is under test)."""
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in ("referral", "shortlists")]
    return executor.loader.project_state([BEFORE_MOVE, *others]).apps


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def fill_before_move(apps):
    """Write the kinds of rows users have, as the old `referral` models stored them."""
    User = apps.get_model("auth", "User")
    Group = apps.get_model("auth", "Group")
    Specialist = apps.get_model("directory", "Specialist")
    Practice = apps.get_model("directory", "Practice")
    Shortlist = apps.get_model("referral", "Shortlist")
    ShortlistItem = apps.get_model("referral", "ShortlistItem")
    ShareLink = apps.get_model("referral", "ShareLink")
    ApiToken = apps.get_model("referral", "ApiToken")
    AccountRequest = apps.get_model("referral", "AccountRequest")

    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")

    # Before the move the models' content types and permissions were the referral app's (as the test database
    # was made at today's migrations, relabel them back), and the Curators had two of them.
    ContentType.objects.filter(app_label="referral", model__in=MOVED).delete()
    ContentType.objects.filter(app_label="shortlists", model__in=MOVED).update(app_label="referral")
    account_requests, _ = ContentType.objects.get_or_create(app_label="referral", model="accountrequest")
    curators, _ = Group.objects.get_or_create(name="Curators")
    for codename in ("view_accountrequest", "change_accountrequest"):
        permission, _ = Permission.objects.get_or_create(
            codename=codename, content_type=account_requests, defaults={"name": codename}
        )
        curators.permissions.add(permission)
    physicians, _ = Group.objects.get_or_create(name="Referring physicians")

    owner = User.objects.create(username="dr.owner", email="owner@example.org", is_active=True)
    owner.groups.add(physicians)
    other = User.objects.create(username="dr.other", email="other@example.org", is_active=True)
    other.groups.add(physicians)
    practice = Practice.objects.create(
        name="Demo Spine", address_line1="1 Main St", city="Chicago", state="IL", zip_code="60611", phone="3125550142"
    )
    specialists = []
    for index, last in enumerate(["Alvarez", "Brook"]):
        specialist = Specialist.objects.create(first_name="Dana", last_name=last, is_published=True)
        specialist.practices.through.objects.create(specialist=specialist, practice=practice, is_primary=index == 0)
        specialists.append(specialist)
    shortlist = Shortlist.objects.create(
        owner=owner,
        title="Post-fusion pain, Chicago",
        origin_zip="60611",
        radius_miles=50,
        situation={"prior_lumbar_fusion": True, "conservative_months": 8},
    )
    for position, specialist in enumerate(reversed(specialists)):
        ShortlistItem.objects.create(
            shortlist=shortlist,
            specialist=specialist,
            position=position,
            note=f"Note {position}: call on Tuesdays",
            practice=practice,
            distance_miles=1.5 + position,
            reasons=[f"Reason {position}"],
            facts=[f"Fact {position}"],
        )
    ShareLink.objects.create(
        shortlist=shortlist, token_hash=sha256(SHARE_TOKEN), expires_at=timezone.now() + datetime.timedelta(days=7)
    )
    ApiToken.objects.create(user=owner, key_hash=sha256(API_KEY))
    AccountRequest.objects.create(name="Sam Reyes", email="sam@example.org", npi="1245319599", practice="Clinic")
    return owner.pk, other.pk, shortlist.pk, [s.pk for s in reversed(specialists)]


@pytest.mark.django_db(transaction=True)
def test_a_filled_database_migrates_forward_with_every_row_working():
    executor = migrate([BEFORE_MOVE, ("shortlists", None)])
    old_apps = state_before_move(executor)
    owner_pk, other_pk, shortlist_pk, specialist_order = fill_before_move(old_apps)

    executor = migrate(executor.loader.graph.leaf_nodes())

    # Every row is still there, with its owner, order, notes and captured reasons.
    shortlist = Shortlist.objects.get(pk=shortlist_pk)
    assert shortlist.owner_id == owner_pk
    assert shortlist.situation == {"prior_lumbar_fusion": True, "conservative_months": 8}
    items = list(shortlist.items.all())
    assert [item.specialist_id for item in items] == specialist_order
    assert [item.note for item in items] == ["Note 0: call on Tuesdays", "Note 1: call on Tuesdays"]
    assert items[0].reasons == ["Reason 0"] and items[1].facts == ["Fact 1"]
    assert ShortlistItem.objects.count() == 2 and ShareLink.objects.count() == 1
    assert AccountRequest.objects.get().status == AccountRequest.Status.PENDING

    # The API token still signs its owner in; the share link still opens the list.
    assert ApiTokenAuthentication().authenticate_credentials(API_KEY)[0].pk == owner_pk
    client = Client()
    response = client.get(f"/api/v1/shortlists/{shortlist_pk}", HTTP_AUTHORIZATION=f"Token {API_KEY}")
    assert response.status_code == 200
    assert [item["note"] for item in response.json()["items"]] == [item.note for item in items]
    shared = client.get(f"/shortlists/shared/{SHARE_TOKEN}/")
    assert shared.status_code == 200 and "Post-fusion pain, Chicago" in shared.content.decode()

    # The owner's page works at its old URL; another physician still gets a 404.
    owner_client, other_client = Client(), Client()
    owner_client.force_login(shortlist.owner)
    page = owner_client.get(f"/shortlists/{shortlist_pk}/")
    assert page.status_code == 200 and "Note 1: call on Tuesdays" in page.content.decode()
    other_client.force_login(type(shortlist.owner).objects.get(pk=other_pk))
    assert other_client.get(f"/shortlists/{shortlist_pk}/").status_code == 404

    # Permissions granted on the old content types followed the models.
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType

    curators = Group.objects.get(name="Curators")
    granted = curators.permissions.filter(content_type__app_label="shortlists")
    codenames = set(granted.values_list("codename", flat=True))
    assert {"view_accountrequest", "change_accountrequest"} <= codenames
    assert not ContentType.objects.filter(app_label="referral", model="accountrequest").exists()


@pytest.mark.django_db(transaction=True)
def test_the_move_can_be_migrated_back_without_losing_rows():
    executor = migrate([BEFORE_MOVE, ("shortlists", None)])
    old_apps = state_before_move(executor)
    _, _, shortlist_pk, _ = fill_before_move(old_apps)
    executor = migrate(executor.loader.graph.leaf_nodes())
    executor = migrate([BEFORE_MOVE, ("shortlists", None)])
    old_apps = state_before_move(executor)
    assert old_apps.get_model("referral", "ShortlistItem").objects.filter(shortlist_id=shortlist_pk).count() == 2
    migrate(executor.loader.graph.leaf_nodes())
    assert Shortlist.objects.filter(pk=shortlist_pk).exists()
