"""Physician accounts: sign-in and throttling, password reset, account requests approved by a curator."""

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core import mail
from django.urls import reverse

from shortlists.models import AccountRequest
from tests.factories import CuratorFactory, PhysicianFactory, make_npi

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # UserFactory's


def sign_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_groups_exist_and_curators_review_account_requests_but_never_shortlists():
    assert Group.objects.filter(name="Referring physicians").exists()
    curators = Group.objects.get(name="Curators")
    referral_perms = set(
        curators.permissions.filter(content_type__app_label="shortlists").values_list("codename", flat=True)
    )
    assert referral_perms == {"view_accountrequest", "change_accountrequest"}
    assert not Permission.objects.filter(group=curators, codename__contains="shortlist").exists()


def test_physician_signs_in_and_out(client):
    physician = PhysicianFactory()
    response = sign_in(client, physician.username, PASSWORD)
    assert response.status_code == 302
    assert client.get(reverse("shortlists:shortlist-list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("shortlists:shortlist-list")).status_code == 302


def test_wrong_password_shows_a_form_error(client):
    physician = PhysicianFactory()
    response = sign_in(client, physician.username, "nope")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_sixth_wrong_attempt_is_locked_out_with_a_clear_page(client, settings):
    physician = PhysicianFactory()
    assert settings.AXES_FAILURE_LIMIT == 5
    # django-axes answers the failure that reaches the limit with the lock page already.
    for _attempt in range(4):
        assert sign_in(client, physician.username, "wrong").status_code == 200
    assert sign_in(client, physician.username, "wrong").status_code == 429
    response = sign_in(client, physician.username, "wrong")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many sign-in attempts" in page
    assert "60 minutes" in page
    # Locked means locked: even the right password does not get in now.
    assert sign_in(client, physician.username, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_working_link(client):
    physician = PhysicianFactory(email="doc@example.org")
    response = client.post(reverse("password_reset"), {"email": "doc@example.org"}, follow=True)
    assert "Check your email" in response.content.decode()
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "A-new-pass-2026", "new_password2": "A-new-pass-2026"}
    )
    physician.refresh_from_db()
    assert physician.check_password("A-new-pass-2026")


def test_account_request_checks_the_npi(client):
    response = client.post(
        reverse("shortlists:account-request"),
        {"name": "Dana Lee", "email": "dana@clinic.example", "npi": "1234567890", "practice": "Lee Family Medicine"},
    )
    assert response.status_code == 200
    assert "not a valid NPI" in response.content.decode()
    assert not AccountRequest.objects.exists()


def test_account_request_then_curator_approval_creates_a_physician(client):
    response = client.post(
        reverse("shortlists:account-request"),
        {"name": "Dana Lee", "email": "Dana@Clinic.example", "npi": make_npi(77), "practice": "Lee Family Medicine"},
    )
    assert response.status_code == 302
    request = AccountRequest.objects.get()
    assert (request.status, request.email) == (AccountRequest.Status.PENDING, "dana@clinic.example")

    curator = CuratorFactory()
    client.force_login(curator)
    changelist = client.get("/admin/shortlists/accountrequest/")
    assert changelist.status_code == 200 and "Dana Lee" in changelist.content.decode()
    client.post(
        "/admin/shortlists/accountrequest/",
        {"action": "approve", "_selected_action": [request.pk]},
    )

    request.refresh_from_db()
    user = User.objects.get(email="dana@clinic.example")
    assert request.status == AccountRequest.Status.APPROVED
    assert (request.reviewed_by, request.user) == (curator, user)
    assert user.groups.filter(name="Referring physicians").exists()
    assert not user.has_usable_password() and not user.is_staff
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dana@clinic.example"]

    # The emailed link lets the physician choose a password, then sign in and see shortlists.
    client.logout()
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    client.post(form_page.redirect_chain[-1][0], {"new_password1": "Lakeshore-2026", "new_password2": "Lakeshore-2026"})
    sign_in(client, "dana@clinic.example", "Lakeshore-2026")
    assert client.get(reverse("shortlists:shortlist-list")).status_code == 200


def test_declined_request_creates_no_account(curator_client):
    request = AccountRequest.objects.create(name="X", email="x@example.org", npi=make_npi(5), practice="P")
    curator_client.post("/admin/shortlists/accountrequest/", {"action": "decline", "_selected_action": [request.pk]})
    request.refresh_from_db()
    assert request.status == AccountRequest.Status.DECLINED
    assert not User.objects.filter(email="x@example.org").exists()
    assert not mail.outbox


def test_a_second_pending_request_for_the_same_email_is_refused(client):
    AccountRequest.objects.create(name="X", email="x@example.org", npi=make_npi(5), practice="P")
    response = client.post(
        reverse("shortlists:account-request"),
        {"name": "X", "email": "X@example.org", "npi": make_npi(6), "practice": "P"},
    )
    assert "already waiting for review" in response.content.decode()
    assert AccountRequest.objects.count() == 1


@pytest.mark.parametrize("name", ["login", "password_reset"])
def test_account_pages_render_in_the_site_layout(client, name):
    page = client.get(reverse(name)).content.decode()
    assert "Not medical advice" in page and "site-header" in page


def test_old_admin_address_of_account_requests_redirects(curator_client):
    request = AccountRequest.objects.create(name="Ann Lee", email="ann@example.org", npi=make_npi(6), practice="X")
    response = curator_client.get(f"/admin/referral/accountrequest/{request.pk}/change/?a=1")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/shortlists/accountrequest/{request.pk}/change/?a=1"
    assert curator_client.get(response["Location"]).status_code == 200
