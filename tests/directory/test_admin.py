import datetime
import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from directory.importers.profiles import import_profiles
from directory.models import CoordinatesSource, Practice, Procedure, Service, Specialist, ZipCode
from tests.directory.test_import_profiles import csv_text, profile
from tests.factories import (
    PracticeFactory,
    ProcedureVolumeFactory,
    SpecialistFactory,
    TrainingFactory,
    UserFactory,
    make_npi,
)

CHANGELIST = reverse("admin:directory_specialist_changelist")
IMPORT = reverse("admin:directory_specialist_import")
EXPORT = reverse("admin:directory_specialist_export")


def change_url(obj):
    return reverse(f"admin:directory_{obj._meta.model_name}_change", args=[obj.pk])


def specialist_form_data(specialist, **overrides):
    """Return the POST data of the specialist change form as the page would send it unchanged."""
    data = {
        "first_name": specialist.first_name,
        "middle_name": specialist.middle_name,
        "last_name": specialist.last_name,
        "credentials": specialist.credentials,
        "specialty": specialist.specialty,
        "npi": specialist.npi or "",
        "languages": specialist.languages,
        "gender": specialist.gender,
        "website": specialist.website,
        "bio": specialist.bio,
        "unpublished_reason": specialist.unpublished_reason,
        "verification_notes": specialist.verification_notes,
        "review_status": specialist.review_status,
        "deactivated_on": "",
    }
    for name in ["accepting_new_patients", "telehealth", "is_published", *[s.value for s in Service]]:
        if getattr(specialist, name):
            data[name] = "on"
    affiliations = list(specialist.affiliation_set.order_by("id"))
    for prefix, rows in (("affiliation_set", affiliations), ("trainings", []), ("volumes", [])):
        data.update({f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": len(rows)})
    for index, affiliation in enumerate(affiliations):
        data.update(
            {
                f"affiliation_set-{index}-id": affiliation.pk,
                f"affiliation_set-{index}-specialist": specialist.pk,
                f"affiliation_set-{index}-practice": affiliation.practice_id,
            }
        )
        if affiliation.is_primary:
            data[f"affiliation_set-{index}-is_primary"] = "on"
    return {**data, **overrides}


# --- access ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_login_page(client):
    specialist = SpecialistFactory()
    for url in (CHANGELIST, change_url(specialist), IMPORT, EXPORT):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_curators_group_has_exactly_the_directory_permissions(db):
    permissions = Group.objects.get(name="Curators").permissions.all()
    assert not permissions.filter(content_type__app_label="auth").exists()  # no users, no groups
    assert {f"{action}_specialist" for action in ("add", "change", "delete", "view")} <= {
        p.codename for p in permissions.filter(content_type__app_label="directory")
    }


def test_curator_opens_and_edits_a_profile(curator_client, curator):
    specialist = SpecialistFactory(first_name="Ada", credentials="MD")
    TrainingFactory(specialist=specialist)

    assert curator_client.get(CHANGELIST).status_code == 200
    page = curator_client.get(change_url(specialist))
    assert page.status_code == 200
    assert "SI-joint services" in page.text

    response = curator_client.post(change_url(specialist), specialist_form_data(specialist, credentials="MD, PhD"))
    assert response.status_code == 302, response.context["errors"] if response.context else response
    specialist.refresh_from_db()
    assert specialist.credentials == "MD, PhD"
    latest = specialist.history.latest()
    assert (latest.history_user, latest.credentials) == (curator, "MD, PhD")  # change history: who, what, when


def test_a_website_typed_without_a_scheme_is_saved_as_https(curator_client):
    specialist = SpecialistFactory()

    response = curator_client.post(change_url(specialist), specialist_form_data(specialist, website="example.org/dr"))

    assert response.status_code == 302
    specialist.refresh_from_db()
    assert specialist.website == "https://example.org/dr"


@pytest.mark.parametrize("model", ["user", "group"])
def test_curator_cannot_view_or_edit_users_or_groups(curator_client, curator, model):
    other = UserFactory() if model == "user" else Group.objects.get(name="Curators")
    assert curator_client.get(reverse(f"admin:auth_{model}_changelist")).status_code == 403
    assert curator_client.get(reverse(f"admin:auth_{model}_add")).status_code == 403
    assert curator_client.get(reverse(f"admin:auth_{model}_change", args=[other.pk])).status_code == 403
    assert curator_client.post(reverse(f"admin:auth_{model}_change", args=[other.pk]), {}).status_code == 403


# --- the list: filters, search, queries --------------------------------------------------------------


def changelist_names(client, query=""):
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    return sorted(s.first_name for s in response.context["cl"].result_list)


@pytest.fixture
def variety(db):
    """A few specialists that differ in one filterable way each."""
    today = timezone.localdate()
    recent = {"period_end": today - datetime.timedelta(days=30), "period_start": today - datetime.timedelta(days=394)}
    stale = {"period_end": today - datetime.timedelta(days=1100), "period_start": today - datetime.timedelta(days=1464)}
    fresh = SpecialistFactory(first_name="Fresh", offers_mis_si_fusion=True, verified_at=timezone.now())
    ProcedureVolumeFactory(specialist=fresh, **recent)
    old = SpecialistFactory(first_name="Old", specialty="pain_medicine", is_published=False)
    ProcedureVolumeFactory(specialist=old, **stale)
    short = SpecialistFactory(first_name="Short")  # a recent count, but only six months long
    ProcedureVolumeFactory(
        specialist=short, period_end=recent["period_end"], period_start=today - datetime.timedelta(days=210)
    )
    SpecialistFactory(first_name="Texan", practices=[PracticeFactory(city="Austin", state="TX", zip_code="78701")])
    return fresh


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("past_year_counts=none", ["Old", "Short", "Texan"]),
        ("past_year_counts=some", ["Fresh"]),
        ("verified=yes", ["Fresh"]),
        ("verified=no", ["Old", "Short", "Texan"]),
        ("state=TX", ["Texan"]),
        ("service=offers_mis_si_fusion", ["Fresh"]),
        ("specialty__exact=pain_medicine", ["Old"]),
        ("is_published__exact=0", ["Old"]),
        ("q=Austin", ["Texan"]),
        ("q=78701", ["Texan"]),
        ("q=Fresh+Specialist", ["Fresh"]),
    ],
)
def test_changelist_filters_and_search(curator_client, variety, query, names):
    assert changelist_names(curator_client, query) == names


def test_search_by_npi(curator_client, variety):
    assert changelist_names(curator_client, f"q={variety.npi}") == ["Fresh"]


def test_changelist_query_count_does_not_grow_with_rows(curator_client, django_assert_num_queries):
    def add_specialists(count):
        for _ in range(count):
            specialist = SpecialistFactory(practices=[PracticeFactory(), PracticeFactory()])
            ProcedureVolumeFactory(specialist=specialist)
            ProcedureVolumeFactory(specialist=specialist, procedure=Procedure.SI_INJECTION)

    add_specialists(2)
    # session, user, 2 permission lookups, the state filter's choices, 2 counts, the page of specialists,
    # their affiliations with practices, their volumes
    with django_assert_num_queries(10):
        curator_client.get(CHANGELIST)
    add_specialists(20)
    with django_assert_num_queries(10):
        response = curator_client.get(CHANGELIST)
    # each past-year count with its period and source
    assert 'MIS fusion&nbsp;30</span> <span class="quiet">(Jan 2025–Dec 2025, self-reported)</span>' in response.text
    assert 'injection&nbsp;30</span> <span class="quiet">(Jan 2025–Dec 2025, self-reported)</span>' in response.text


# --- actions -----------------------------------------------------------------------------------------


def run_action(client, action, specialists):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [s.pk for s in specialists]}, follow=True)


def test_publish_and_unpublish_actions_say_how_many_changed(curator_client):
    draft, live = SpecialistFactory(is_published=False, offers_rf_ablation=True), SpecialistFactory(is_published=True)
    bare = SpecialistFactory(is_published=False, first_name="Bare")  # no SI-joint service, no count

    response = run_action(curator_client, "publish", [draft, live, bare])
    assert "Published 1 specialist (1 already published)." in response.text
    assert (
        f"Not published: {bare.display_name} — No SI-joint service ticked and no past-year SI-joint procedure count."
        in [str(m) for m in response.context["messages"]]
    )
    draft.refresh_from_db()
    bare.refresh_from_db()
    assert draft.is_published and not bare.is_published
    latest = draft.history.latest()  # the action leaves change history too, with who and why
    assert latest.is_published and latest.history_change_reason == "Published with the admin's Publish action"

    response = run_action(curator_client, "unpublish", [draft, live])
    assert "Unpublished 2 specialists." in response.text
    assert draft.history.latest().history_change_reason == "Unpublished with the admin's Unpublish action"
    assert not Specialist.objects.filter(is_published=True).exists()


def test_mark_verified_records_who_and_when(curator_client, curator):
    specialists = [SpecialistFactory(), SpecialistFactory()]
    before = timezone.now()
    response = run_action(curator_client, "mark_verified", specialists)
    assert "Marked 2 specialists as verified by you." in response.text
    for specialist in specialists:
        specialist.refresh_from_db()
        assert specialist.verified_by == curator
        assert specialist.verified_at >= before
        latest = specialist.history.latest()
        assert latest.history_user == curator
        assert latest.history_change_reason == f"Verified by {curator.username} with the admin's Mark verified action"


# --- change page -------------------------------------------------------------------------------------


def test_change_page_shows_data_quality_hints(curator_client):
    nowhere = PracticeFactory(name="Demo Nowhere Clinic", zip_code="")
    specialist = SpecialistFactory(npi=None, practices=[nowhere])
    ProcedureVolumeFactory(
        specialist=specialist, period_start=datetime.date(2019, 1, 1), period_end=datetime.date(2019, 12, 31)
    )
    response = curator_client.get(change_url(specialist))
    hints = response.context["data_quality_hints"]
    assert hints == [
        "No NPI: this profile cannot be matched with CMS or NPPES data.",
        "Never verified: check the profile with the practice and mark it verified.",
        "Practice “Demo Nowhere Clinic”: No ZIP and no coordinates: it cannot appear in searches.",
        "Minimally invasive SI-joint fusion count is stale: no twelve-month count ending in the last 24 months "
        "(latest period ended Dec 2019).",
    ]
    assert "Data-quality hints (4)" in response.text


def test_change_page_of_a_complete_profile_has_no_hints(curator_client):
    specialist = SpecialistFactory(offers_mis_si_fusion=True, verified_at=timezone.now())
    today = timezone.localdate()
    ProcedureVolumeFactory(specialist=specialist, period_end=today, period_start=today - datetime.timedelta(days=364))
    response = curator_client.get(change_url(specialist))
    assert response.context["data_quality_hints"] == []
    assert "No data-quality problems found." in response.text


def test_hand_edits_of_identity_fields_are_recorded_for_the_importers(curator_client):
    specialist = SpecialistFactory(first_name="Jon")
    curator_client.post(change_url(specialist), specialist_form_data(specialist, bio="Spine surgeon."))
    specialist.refresh_from_db()
    assert specialist.curator_edited_fields == []  # the bio is not something the importers fill

    curator_client.post(change_url(specialist), specialist_form_data(specialist, first_name="John", credentials="DO"))
    specialist.refresh_from_db()
    assert specialist.curator_edited_fields == ["credentials", "first_name"]


def test_changing_a_practice_link_is_recorded(curator_client):
    specialist = SpecialistFactory()
    other = PracticeFactory()
    data = specialist_form_data(specialist)
    data.update(
        {
            "affiliation_set-TOTAL_FORMS": 2,
            "affiliation_set-1-specialist": specialist.pk,
            "affiliation_set-1-practice": other.pk,
        }
    )
    curator_client.post(change_url(specialist), data)
    specialist.refresh_from_db()
    assert specialist.practices.count() == 2
    assert specialist.curator_edited_fields == ["practices"]


# --- practices and ZIP codes -------------------------------------------------------------------------


def practice_data(practice, **overrides):
    data = {
        "name": practice.name,
        "address_line1": practice.address_line1,
        "address_line2": practice.address_line2,
        "city": practice.city,
        "state": practice.state,
        "zip_code": practice.zip_code,
        "phone": practice.phone,
        "latitude": "" if practice.latitude is None else practice.latitude,
        "longitude": "" if practice.longitude is None else practice.longitude,
        "affiliation_set-TOTAL_FORMS": 0,
        "affiliation_set-INITIAL_FORMS": 0,
    }
    return {**data, **overrides}


def test_typed_coordinates_are_manual_and_cleared_ones_return_to_the_zip_centroid(curator_client):
    practice = PracticeFactory(zip_code="60611")
    centroid = ZipCode.objects.get(code="60611").point
    assert practice.coordinates_source == CoordinatesSource.ZIP_CENTROID

    response = curator_client.post(change_url(practice), practice_data(practice, latitude=41.9, longitude=-87.62))
    assert response.status_code == 302
    practice.refresh_from_db()
    assert (practice.point, practice.coordinates_source) == ((41.9, -87.62), CoordinatesSource.MANUAL)

    curator_client.post(change_url(practice), practice_data(practice, zip_code="10001"))
    practice.refresh_from_db()
    assert practice.point == (41.9, -87.62)  # hand-set coordinates stay when the ZIP changes

    curator_client.post(change_url(practice), practice_data(practice, zip_code="60611", latitude="", longitude=""))
    practice.refresh_from_db()
    assert (practice.point, practice.coordinates_source) == (centroid, CoordinatesSource.ZIP_CENTROID)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"latitude": 41.9, "longitude": ""}, "Enter both latitude and longitude"),
        ({"zip_code": "00000"}, "No such US ZIP: 00000"),
        ({"zip_code": "606"}, "ZIP codes have 5 digits"),
        ({"zip_code": "09001"}, "09001 is a military (APO/FPO/DPO) address with no fixed location"),
        ({"phone": "555"}, "“555” is not a phone number"),
        ({"latitude": 41.9, "longitude": 87.6}, "outside the US states and territories"),
        ({"latitude": 0, "longitude": 0}, "outside the US states and territories"),
    ],
)
def test_practice_form_errors(curator_client, overrides, error):
    practice = PracticeFactory()
    response = curator_client.post(change_url(practice), practice_data(practice, **overrides))
    assert response.status_code == 200
    assert error in response.text


def test_editing_a_practice_address_is_recorded_on_its_specialists(curator_client):
    practice = PracticeFactory()
    specialist = SpecialistFactory(practices=[practice])
    curator_client.post(change_url(practice), practice_data(practice, address_line1="1 New Street"))
    specialist.refresh_from_db()
    assert specialist.curator_edited_fields == ["address_line1"]


def test_editing_a_zip_centroid_marks_it_corrected(curator_client):
    zip_code = ZipCode.objects.get(code="60611")
    data = {"code": "60611", "city": zip_code.city, "state": zip_code.state, "latitude": 41.89, "longitude": -87.62}
    response = curator_client.post(change_url(zip_code), data)
    assert response.status_code == 302
    zip_code.refresh_from_db()
    assert zip_code.is_corrected and zip_code.latitude == 41.89


def test_other_admin_pages_open(curator_client):
    volume = ProcedureVolumeFactory()
    training = TrainingFactory()
    for url in (
        change_url(volume),
        change_url(training),
        change_url(volume.specialist.practices.get()),
        reverse("admin:directory_practice_changelist") + "?coordinates=missing",
        reverse("admin:directory_zipcode_changelist") + "?q=Chicago",
        reverse("admin:directory_procedurevolume_changelist"),
        reverse("admin:directory_specialist_history", args=[volume.specialist.pk]),
        reverse("admin:directory_verificationqueueentry_changelist"),
        reverse("admin:directory_zipcode_changelist") + "?kind__exact=military",
        change_url(ZipCode.objects.get(code="09001")),
    ):
        assert curator_client.get(url).status_code == 200, url


# --- import and export in the admin ------------------------------------------------------------------


def upload(client, text, **data):
    return client.post(IMPORT, {"file": SimpleUploadedFile("profiles.csv", text.encode()), **data})


def test_import_preview_then_confirm(curator_client, curator):
    existing = SpecialistFactory(npi=make_npi(1), first_name="Ada", last_name="Okafor", credentials="DO")
    text = csv_text(profile(), profile(npi=make_npi(2), first_name="Ben"), profile(npi=make_npi(3), zip="00000"))

    preview = upload(curator_client, text)
    assert preview.status_code == 200
    report = preview.context["preview"]
    assert (report.created, report.updated, report.rejected) == (1, 1, 1)
    assert "Preview: nothing has been written yet" in preview.text
    assert "No such US ZIP: 00000" in preview.text
    assert Specialist.objects.count() == 1  # nothing written by the preview

    signed = preview.context["confirm_form"].initial["upload"]
    done = curator_client.post(IMPORT, {"upload": signed, "confirm": "Import"})
    assert done.status_code == 200
    assert "Imported: created 1, updated 1, unchanged 0, rejected 1." in done.text
    existing.refresh_from_db()
    assert existing.credentials == "MD" and existing.verified_by == curator
    assert Specialist.objects.count() == 2


def test_import_confirm_revalidates_and_refuses_an_altered_file(curator_client):
    preview = upload(curator_client, csv_text(profile()))
    signed = preview.context["confirm_form"].initial["upload"]
    tampered = signed[:-3] + ("AAA" if not signed.endswith("AAA") else "BBB")
    response = curator_client.post(IMPORT, {"upload": tampered, "confirm": "Import"})
    assert "could not be verified" in response.text
    assert not Specialist.objects.exists()

    # Between preview and confirm someone else created the specialist: the confirm step sees that.
    SpecialistFactory(npi=make_npi(1))
    response = curator_client.post(IMPORT, {"upload": signed, "confirm": "Import"})
    assert response.context["result"].created == 0 and response.context["result"].updated == 1


def test_import_preview_belongs_to_the_user_who_uploaded(curator_client, client):
    signed = upload(curator_client, csv_text(profile())).context["confirm_form"].initial["upload"]
    client.force_login(UserFactory(groups=["Curators"], is_staff=True))
    response = client.post(IMPORT, {"upload": signed, "confirm": "Import"})
    assert "belongs to another user" in response.text
    assert not Specialist.objects.exists()


def test_import_all_or_nothing_preview_cannot_be_confirmed_with_rejections(curator_client):
    preview = upload(curator_client, csv_text(profile(), profile(npi="1")), atomic="on")
    assert "would import nothing" in preview.text
    signed = preview.context["confirm_form"].initial["upload"]
    response = curator_client.post(IMPORT, {"upload": signed, "confirm": "Import"})
    assert "Nothing imported" in response.text
    assert not Specialist.objects.exists()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"npi,shoe_size\n", "Unknown column: shoe_size"),
        (b"npi,first_name\n1234567893,Jos\xe9\n", "not UTF-8"),
    ],
)
def test_import_upload_errors_are_shown_on_the_form(curator_client, content, error):
    response = curator_client.post(IMPORT, {"file": SimpleUploadedFile("profiles.csv", content)})
    assert response.status_code == 200
    assert error in response.text
    assert response.context["preview"] is None


def test_import_needs_add_and_change_permission(db, client):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_specialist"))
    client.force_login(viewer)
    assert client.get(IMPORT).status_code == 403
    assert client.get(EXPORT).status_code == 200  # viewing is enough to export


def test_export_button_and_action_round_trip(curator_client):
    published = SpecialistFactory(first_name="Pub")
    TrainingFactory(specialist=published, course="SI course", year=2024)
    ProcedureVolumeFactory(specialist=published)
    SpecialistFactory(first_name="Draft", is_published=False)

    response = curator_client.get(f"{EXPORT}?is_published__exact=1")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8-sig")
    assert len(text.splitlines()) == 2 and "Pub" in text and "Draft" not in text
    result = import_profiles(io.StringIO(text))
    assert (result.unchanged, result.updated, result.created) == (1, 0, 0)

    action = curator_client.post(
        CHANGELIST,
        {"action": "export_profiles_csv", "_selected_action": list(Specialist.objects.values_list("pk", flat=True))},
    )
    text = action.content.decode("utf-8-sig")
    assert len(text.splitlines()) == 3
    assert import_profiles(io.StringIO(text)).unchanged == 2


def test_changelist_links_to_import_and_export(curator_client):
    SpecialistFactory()
    response = curator_client.get(CHANGELIST + "?is_published__exact=1")
    assert IMPORT in response.text
    assert f"{EXPORT}?is_published__exact=1" in response.text
    assert Practice.objects.count() == 1


# --- review gate on the change page ------------------------------------------------------------------


def test_change_page_publishes_only_a_profile_a_patient_can_use(curator_client):
    specialist = SpecialistFactory(is_published=False, practices=[PracticeFactory(phone="")])
    response = curator_client.post(
        change_url(specialist),
        specialist_form_data(specialist, is_published="on", offers_rf_ablation="on"),
        follow=True,
    )
    specialist.refresh_from_db()
    assert not specialist.is_published and specialist.offers_rf_ablation  # the edit is kept, publishing is not
    assert (
        f"Not published: {specialist.display_name} — No phone number at a located practice: add one so that "
        "patients can call." in [str(m) for m in response.context["messages"]]
    )

    specialist.practices.update(phone="312-555-0142")
    curator_client.post(change_url(specialist), specialist_form_data(specialist, is_published="on"))
    specialist.refresh_from_db()
    assert specialist.is_published
    assert specialist.history.latest().history_change_reason == "Published from the change page"


def test_a_change_records_the_reason_typed_with_it(curator_client, curator):
    specialist = SpecialistFactory()
    curator_client.post(
        change_url(specialist),
        specialist_form_data(specialist, bio="Sees SI-joint patients.", change_reason="Phoned the practice"),
    )
    latest = specialist.history.latest()
    assert (latest.history_user, latest.history_change_reason, latest.bio) == (
        curator,
        "Phoned the practice",
        "Sees SI-joint patients.",
    )
    curator_client.post(change_url(specialist), specialist_form_data(specialist, bio="Sees SI-joint patients weekly."))
    assert specialist.history.latest().history_change_reason == "Edited in the admin"


# --- data-quality hints --------------------------------------------------------------------------------


def test_hints_catch_contradictions_bad_phones_and_approximate_locations(curator_client):
    today = timezone.localdate()
    practices = [
        PracticeFactory(name="Hicksville Spine", city="Hicksville", state="NY", zip_code="11805", phone="516-555-0100"),
        PracticeFactory(name="Typo Clinic", phone="555"),
    ]
    specialist = SpecialistFactory(practices=practices, verified_at=timezone.now() - datetime.timedelta(days=800))
    ProcedureVolumeFactory(
        specialist=specialist,
        count=45,
        source="cms_medicare",
        period_start=today - datetime.timedelta(days=364),
        period_end=today,
    )
    hints = curator_client.get(change_url(specialist)).context["data_quality_hints"]
    period = f"{today - datetime.timedelta(days=364):%b %Y}–{today:%b %Y}"
    assert (
        f"Minimally invasive SI-joint fusion: 45 in {period} (CMS Medicare), but the “Minimally invasive SI-joint "
        "fusion” service is off: turn it on, or check the count." in hints
    )
    assert "Practice “Typo Clinic”: “555” is not a phone number." in hints
    assert any(
        h.startswith("Practice “Hicksville Spine” is at an approximate location: ZIP 11805 has no location of its own")
        for h in hints
    )
    assert any(h.startswith("Last verified on ") and "more than 12 months ago" in h for h in hints)


def test_a_practice_outside_the_us_is_kept_out_of_the_search_with_the_reason_shown(curator_client):
    montreal = PracticeFactory(name="Clinique Montréal", city="Montreal", state="QC", zip_code="")
    specialist = SpecialistFactory(practices=[montreal])
    montreal.refresh_from_db()
    assert montreal.point is None
    response = curator_client.get(change_url(specialist))
    assert "The address is outside the US states and territories (QC): kept out of the search." in response.text
    assert "kept out of the search" in curator_client.get(change_url(montreal)).text


# --- verification that stays fresh ---------------------------------------------------------------------


@pytest.fixture
def verifications(db):
    now = timezone.now()
    return {
        "never": SpecialistFactory(first_name="Never"),
        "old": SpecialistFactory(first_name="Old", verified_at=now - datetime.timedelta(days=400)),
        "fresh": SpecialistFactory(first_name="Fresh", verified_at=now - datetime.timedelta(days=30)),
    }


@pytest.mark.parametrize(
    ("query", "names"), [("verification=due", ["Never", "Old"]), ("verification=current", ["Fresh"])]
)
def test_verification_due_filter(curator_client, verifications, query, names):
    assert changelist_names(curator_client, query) == names


def test_verification_queue_lists_due_profiles_and_follows_the_setting(curator_client, verifications, settings):
    url = reverse("admin:directory_verificationqueueentry_changelist")
    response = curator_client.get(url)
    assert [s.first_name for s in response.context["cl"].result_list] == ["Never", "Old"]
    assert "verified more than 12 months ago" in response.text

    settings.SIJ_VERIFICATION_MAX_MONTHS = 24
    assert [s.first_name for s in curator_client.get(url).context["cl"].result_list] == ["Never"]

    curator_client.post(url, {"action": "mark_verified", "_selected_action": [verifications["never"].pk]})
    assert list(curator_client.get(url).context["cl"].result_list) == []


def test_mark_counts_verified_records_who_and_when(curator_client, curator):
    volumes = [ProcedureVolumeFactory(), ProcedureVolumeFactory(verified=True)]
    before = timezone.now()
    url = reverse("admin:directory_procedurevolume_changelist")
    response = curator_client.post(
        url, {"action": "mark_counts_verified", "_selected_action": [v.pk for v in volumes]}, follow=True
    )
    assert "Marked 1 count verified by you (1 already verified)." in response.text
    volumes[0].refresh_from_db()
    assert volumes[0].verified and volumes[0].verified_by == curator and volumes[0].verified_at >= before
    latest = volumes[0].history.latest()
    assert (latest.history_user, latest.history_change_reason) == (curator, f"Counts verified by {curator.username}")
    assert f"by {curator.username} on " in curator_client.get(url).text


def test_count_list_never_shows_a_suppressed_count_as_0_and_labels_the_ranking_truthfully(curator_client):
    today = timezone.localdate()
    period = {"period_start": today - datetime.timedelta(days=364), "period_end": today}
    specialist = SpecialistFactory()
    ProcedureVolumeFactory(specialist=specialist, count=None, is_suppressed=True, source="cms_medicare", **period)
    ProcedureVolumeFactory(specialist=specialist, procedure=Procedure.LUMBAR_FUSION, count=224, **period)
    response = curator_client.get(reverse("admin:directory_procedurevolume_changelist"))
    rows = {(r.procedure, r.count) for r in response.context["cl"].result_list}
    assert rows == {("mis_si_fusion", None), ("lumbar_fusion", 224)}
    assert "under 11, suppressed by CMS" in response.text
    assert "context only: not ranked" in response.text
    assert "counted (stands for the past year)" in response.text
    listing = curator_client.get(CHANGELIST).text
    assert "lumbar fusion&nbsp;224</span>" in listing and "context only: not ranked" in listing


# --- history -------------------------------------------------------------------------------------------


def test_history_page_shows_who_why_and_each_field_old_to_new(curator_client, curator):
    specialist = SpecialistFactory(first_name="Jon", credentials="MD")
    curator_client.post(
        change_url(specialist),
        specialist_form_data(
            specialist, first_name="John", credentials="DO", change_reason="Spelling, per the practice"
        ),
    )
    ProcedureVolumeFactory(specialist=specialist, count=12)
    page = curator_client.get(reverse("admin:directory_specialist_history", args=[specialist.pk])).text
    assert "Spelling, per the practice" in page and curator.username in page
    assert '<strong>First name:</strong> <span class="sij-old">Jon</span> → John' in page
    assert '<strong>Credentials:</strong> <span class="sij-old">MD</span> → DO' in page
    assert "Count: Minimally invasive SI-joint fusion: 12" in page  # the counts' history on the same page


def test_revert_to_an_earlier_version_from_the_admin(curator_client, curator):
    specialist = SpecialistFactory(first_name="Jon", bio="Original bio.")
    curator_client.post(change_url(specialist), specialist_form_data(specialist, first_name="Jonathan", bio="Wrong."))
    original = specialist.history.earliest()
    revert_url = reverse("admin:directory_specialist_simple_history", args=[specialist.pk, original.history_id])
    form = curator_client.get(revert_url)
    assert form.status_code == 200 and "Original bio." in form.text

    response = curator_client.post(revert_url, specialist_form_data(original.instance))
    assert response.status_code == 302
    specialist.refresh_from_db()
    assert (specialist.first_name, specialist.bio) == ("Jon", "Original bio.")
    latest = specialist.history.latest()
    assert latest.history_user == curator
    assert latest.history_change_reason.startswith("Reverted to the version of ")
