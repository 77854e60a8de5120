import datetime
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from bench.public_files import CMS_HEADER, NPPES_HEADER, cms_row, nppes_row, write_csv
from directory.models import ReviewStatus, Specialist
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory, make_npi

pytestmark = pytest.mark.django_db

URL = reverse("admin:directory_reviewstub_changelist")
BUSY, QUIET, INJECTOR = make_npi(8001), make_npi(8002), make_npi(8003)


def import_files(tmp_path, extra_npis=()):
    """Queue three stubs from a CMS 2025 file (14+5 / 11 / no fusions) and one NPPES record."""
    cms_rows = [
        cms_row(BUSY, "27279", Rndrng_Prvdr_Last_Org_Name="BUSY", Tot_Srvcs="14"),
        cms_row(BUSY, "27280", Rndrng_Prvdr_Last_Org_Name="BUSY", Tot_Srvcs="5"),
        cms_row(QUIET, "27279", Rndrng_Prvdr_Last_Org_Name="QUIET", Tot_Srvcs="11", Rndrng_Prvdr_State_Abrvtn="TX"),
        cms_row(INJECTOR, "27096", Rndrng_Prvdr_Last_Org_Name="INJECTOR", Tot_Srvcs="52"),
        *(cms_row(npi, "27096", Rndrng_Prvdr_Last_Org_Name="EXTRA") for npi in extra_npis),
    ]
    call_command("import_cms", str(write_csv(tmp_path / "cms_D25.csv", CMS_HEADER, cms_rows)), stdout=StringIO())
    in_houston = {
        "Provider Last Name (Legal Name)": "QUIET",
        "Provider Business Practice Location Address City Name": "HOUSTON",
        "Provider Business Practice Location Address State Name": "TX",
        "Provider Business Practice Location Address Postal Code": "770301234",
    }
    nppes_rows = [nppes_row(QUIET, taxonomies=["208VP0014X"], **in_houston)]
    nppes = write_csv(tmp_path / "npidata_pfile.csv", NPPES_HEADER, nppes_rows)
    call_command("import_nppes", str(nppes), stdout=StringIO())


def names_in_order(response) -> list[str]:
    return re.findall(r'<a href="/admin/directory/specialist/\d+/change/">[^<]*?(\w+), M\.D\.</a>', response.text)


def test_lists_pending_stubs_with_what_each_source_said(tmp_path, curator_client):
    import_files(tmp_path)
    SpecialistFactory(last_name="Curated")

    response = curator_client.get(URL)

    assert response.status_code == 200
    assert sorted(names_in_order(response)) == ["Busy", "Injector", "Quiet"]
    assert "<strong>2025</strong>: MIS fusion 14 · open fusion 5" in response.text
    assert "<strong>2025</strong>: injection 52" in response.text
    assert "Interventional Pain Medicine (primary)<br>1200 N State St, Suite 400, Houston, TX 77030" in response.text
    assert "not imported from NPPES" in response.text
    assert "Curated" not in response.text


def test_most_past_year_si_joint_fusions_first_and_no_count_last(tmp_path, curator_client):
    import_files(tmp_path)

    assert names_in_order(curator_client.get(URL)) == ["Busy", "Quiet", "Injector"]
    ascending = curator_client.get(URL, {"o": "3"})  # the past-year SI-joint fusions column
    assert names_in_order(ascending) == ["Injector", "Quiet", "Busy"]
    assert re.search(r'<td class="field-past_year_si_fusion">19</td>', ascending.text)
    assert re.search(r'<td class="field-past_year_si_fusion">—</td>', ascending.text)


@pytest.mark.parametrize(("params", "names"), [({"found_by": "nppes"}, ["Quiet"]), ({"state": "TX"}, ["Quiet"])])
def test_filters_by_source_and_state(tmp_path, curator_client, params, names):
    import_files(tmp_path)

    assert names_in_order(curator_client.get(URL, params)) == names


def test_list_query_count_does_not_grow_with_the_queue(tmp_path, curator_client, django_assert_num_queries):
    import_files(tmp_path, extra_npis=[make_npi(8100 + n) for n in range(20)])
    curator_client.get(URL)  # warm the session and permission caches

    # session, user, user and group permissions, the state filter's states, count, full count, the page
    # (fusion counts annotated), source records, practices
    with django_assert_num_queries(10):
        response = curator_client.get(URL)
    assert len(names_in_order(response)) == 23


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_publish_after_review_publishes_only_what_a_patient_can_use_and_says_per_stub_what_is_missing(
    tmp_path, curator_client
):
    import_files(tmp_path)
    Specialist.objects.filter(npi=INJECTOR).update(deactivated_on="2025-03-15")
    Specialist.objects.get(npi=BUSY).practices.update(phone="312-555-0142")
    ids = list(Specialist.objects.values_list("pk", flat=True))

    response = curator_client.post(URL, {"action": "publish_after_review", "_selected_action": ids}, follow=True)
    published = Specialist.objects.get(npi=BUSY)
    assert (published.review_status, published.is_published) == ("curated", True)
    latest = published.history.first()
    assert latest.history_user.groups.filter(name="Curators").exists()
    assert latest.history_change_reason == "Published from the import review queue"
    injector = Specialist.objects.get(npi=INJECTOR)
    assert (injector.review_status, injector.is_published) == ("pending", False)
    assert messages_of(response) == [
        "Not published: Jane Q Injector, M.D. — NPPES lists the NPI as deactivated on 2025-03-15. "
        "No phone number at a located practice: add one so that patients can call.",
        "Published 2 specialists.",
    ]
    assert names_in_order(curator_client.get(URL)) == ["Injector"]


@pytest.mark.parametrize(
    ("practice", "services", "missing"),
    [
        ({"phone": "555"}, {"offers_rf_ablation": True}, "No phone number at a located practice (“555” is not a phone"),
        ({"phone": ""}, {"offers_rf_ablation": True}, "No phone number at a located practice: add one"),
        ({"zip_code": "09001"}, {"offers_rf_ablation": True}, "No practice with a location: 09001 is a military"),
        ({"state": "QC", "zip_code": ""}, {"offers_rf_ablation": True}, "outside the US states and territories (QC)"),
        ({}, {}, "No SI-joint service ticked and no past-year SI-joint procedure count."),
    ],
)
def test_a_stub_a_patient_could_not_use_stays_in_the_queue_with_what_is_missing(
    curator_client, practice, services, missing
):
    stub = SpecialistFactory(
        is_published=False, review_status=ReviewStatus.PENDING, practices=[PracticeFactory(**practice)], **services
    )
    response = curator_client.post(URL, {"action": "publish_after_review", "_selected_action": [stub.pk]}, follow=True)
    stub.refresh_from_db()
    assert (stub.review_status, stub.is_published) == (ReviewStatus.PENDING, False)
    refusal = messages_of(response)[0]
    assert refusal.startswith(f"Not published: {stub.display_name} — ") and missing in refusal
    assert len(messages_of(response)) == 1  # no "Published 0" beside it


def test_a_stub_with_a_past_year_count_and_a_phone_is_published(curator_client):
    stub = SpecialistFactory(is_published=False, review_status=ReviewStatus.PENDING)
    today = timezone.localdate()
    ProcedureVolumeFactory(specialist=stub, period_end=today, period_start=today - datetime.timedelta(days=364))
    curator_client.post(URL, {"action": "publish_after_review", "_selected_action": [stub.pk]})
    stub.refresh_from_db()
    assert (stub.review_status, stub.is_published) == (ReviewStatus.CURATED, True)


def test_dismissed_stub_leaves_the_queue_and_stays_dismissed_after_the_next_import(tmp_path, curator_client):
    import_files(tmp_path)
    busy = Specialist.objects.get(npi=BUSY)

    curator_client.post(URL, {"action": "dismiss", "_selected_action": [busy.pk]})
    import_files(tmp_path)

    busy.refresh_from_db()
    assert (busy.review_status, busy.is_published) == (ReviewStatus.DISMISSED, False)
    assert names_in_order(curator_client.get(URL)) == ["Quiet", "Injector"]
    assert Specialist.objects.filter(npi=BUSY).count() == 1


def test_entries_open_the_specialist_page_and_cannot_be_added_or_deleted(tmp_path, curator_client):
    import_files(tmp_path)
    busy = Specialist.objects.get(npi=BUSY)

    change = curator_client.get(reverse("admin:directory_reviewstub_change", args=[busy.pk]))
    assert change.url == reverse("admin:directory_specialist_change", args=[busy.pk])
    listing = curator_client.get(URL).text
    assert "delete_selected" not in listing
    assert reverse("admin:directory_reviewstub_add") not in listing


def test_curators_see_the_queue_on_the_admin_index(curator_client):
    assert "Import review queue" in curator_client.get(reverse("admin:index")).text
