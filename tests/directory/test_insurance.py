"""The insurance a practice accepts: the curated list, the admin and the profiles CSV (issue 15, item 3)."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from directory.importers.profiles import COLUMNS, import_profiles, profiles_for_export, write_profiles_csv
from directory.models import Insurance, Practice, Specialist
from tests.directory.test_import_profiles import blank_row, csv_text, database_state, profile
from tests.factories import PracticeFactory, SpecialistFactory, UserFactory, make_npi

pytestmark = pytest.mark.django_db

CONFIRMED = "2025-11-03"


def codes(practice) -> list[str]:
    return [entry.code for entry in practice.insurance.all()]


def run_import(*rows, **options):
    return import_profiles(io.StringIO(csv_text(*rows)), **options)


def practice() -> Practice:
    return Practice.objects.get()


# --- the list -----------------------------------------------------------------------------------------


def test_the_migration_loads_the_curated_list_in_order():
    assert list(Insurance.objects.values_list("code", flat=True)) == [
        "medicare",
        "medicaid",
        "tricare",
        "va_community_care",
        "unitedhealthcare",
        "elevance_anthem",
        "aetna",
        "cigna",
        "humana",
        "bcbs",
        "kaiser_permanente",
        "workers_comp",
        "self_pay",
    ]
    assert Insurance.objects.get_by_natural_key("tricare").name == "TRICARE"


def test_unknown_is_not_none_and_only_confirmed_lists_count_as_accepting():
    medicare = Insurance.objects.get(code="medicare")
    unknown, none, listed = PracticeFactory(), PracticeFactory(), PracticeFactory()
    none.insurance_confirmed_on = listed.insurance_confirmed_on = datetime.date(2025, 11, 3)
    none.save()
    listed.save()
    listed.insurance.set([medicare])
    unconfirmed = PracticeFactory()  # a list without a date (only the shell can make one): not shown as accepted
    unconfirmed.insurance.set([medicare])
    assert (unknown.insurance_known, none.insurance_known, listed.insurance_known) == (False, True, True)
    assert list(Practice.objects.accepting(medicare)) == [listed]


# --- the admin ----------------------------------------------------------------------------------------


def practice_form_data(practice, **overrides) -> dict:
    data = {
        "name": practice.name,
        "address_line1": practice.address_line1,
        "address_line2": practice.address_line2,
        "city": practice.city,
        "state": practice.state,
        "zip_code": practice.zip_code,
        "phone": practice.phone,
        "latitude": "",
        "longitude": "",
        "insurance_confirmed_on": "",
        "affiliation_set-TOTAL_FORMS": "0",
        "affiliation_set-INITIAL_FORMS": "0",
    }
    return data | overrides


def test_curator_ticks_the_insurance_and_the_date_it_was_confirmed(curator_client):
    office = PracticeFactory()
    url = reverse("admin:directory_practice_change", args=[office.pk])
    page = curator_client.get(url).content.decode()
    assert 'type="checkbox" name="insurance"' in page and "Insurance confirmed on" in page
    medicare, aetna = Insurance.objects.get(code="medicare"), Insurance.objects.get(code="aetna")

    refused = curator_client.post(url, practice_form_data(office, insurance=[medicare.pk, aetna.pk]))
    assert refused.status_code == 200
    assert "Enter the date the office confirmed this insurance list." in refused.content.decode()
    assert codes(office) == []

    saved = curator_client.post(
        url, practice_form_data(office, insurance=[medicare.pk, aetna.pk], insurance_confirmed_on=CONFIRMED)
    )
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else ""
    office.refresh_from_db()
    assert codes(office) == ["medicare", "aetna"]
    assert office.insurance_confirmed_on == datetime.date(2025, 11, 3)
    latest = office.history.first()
    assert [entry.insurance_id for entry in latest.insurance.all()] == [medicare.pk, aetna.pk]
    assert latest.insurance_confirmed_on == datetime.date(2025, 11, 3)


def test_the_practice_list_filters_by_insurance_known_and_by_insurance(curator_client):
    medicare = Insurance.objects.get(code="medicare")
    known = PracticeFactory(name="Known Demo Practice", insurance_confirmed_on=datetime.date(2025, 1, 2))
    known.insurance.set([medicare])
    PracticeFactory(name="Unknown Demo Practice")
    changelist = reverse("admin:directory_practice_changelist")
    for query, expected in (
        ("insurance_known=yes", ["Known Demo Practice"]),
        ("insurance_known=no", ["Unknown Demo Practice"]),
        (f"insurance__id__exact={medicare.pk}", ["Known Demo Practice"]),
    ):
        response = curator_client.get(f"{changelist}?{query}")
        assert response.status_code == 200
        assert [p.name for p in response.context["cl"].result_list] == expected, query


def test_curators_keep_the_list_but_only_superusers_delete_from_it(curator_client):
    assert curator_client.get(reverse("admin:directory_insurance_add")).status_code == 200
    entry = Insurance.objects.get(code="humana")
    assert curator_client.get(reverse("admin:directory_insurance_delete", args=[entry.pk])).status_code == 403


def test_the_admin_profile_export_carries_the_insurance(curator_client):
    office = PracticeFactory(insurance_confirmed_on=datetime.date(2025, 11, 3))
    office.insurance.set(Insurance.objects.filter(code__in=["medicare", "self_pay"]))
    SpecialistFactory(npi=make_npi(5), practices=[office])
    response = curator_client.get(reverse("admin:directory_specialist_export"))
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["insurance"], row["insurance_confirmed"]) == ("medicare; self_pay", CONFIRMED)


# --- the profiles CSV ---------------------------------------------------------------------------------


def test_codes_or_names_in_any_case_set_the_list_and_the_preview_shows_old_and_new():
    result = run_import(profile(insurance="Medicare; AETNA; blue cross blue shield", insurance_confirmed=CONFIRMED))
    assert result.created == 1, result.errors
    assert codes(practice()) == ["medicare", "aetna", "bcbs"]
    assert practice().insurance_confirmed_on == datetime.date(2025, 11, 3)

    result = run_import(blank_row(insurance="medicare; tricare", insurance_confirmed="2025-12-01"))
    assert result.updated == 1
    assert result.outcomes[0].changes == ["insurance", "insurance_confirmed"]
    assert [str(change) for change in result.outcomes[0].diffs] == [
        "insurance: medicare; aetna; bcbs → medicare; tricare",
        f"insurance_confirmed: {CONFIRMED} → 2025-12-01",
    ]
    assert codes(practice()) == ["medicare", "tricare"]


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        ({"insurance": "Medicare; Acme Health"}, "insurance", "unknown insurance “Acme Health”"),
        ({"insurance": "none; medicare"}, "insurance", "none cannot be listed with other insurance"),
        ({"insurance": "medicare", "insurance_confirmed": ""}, "insurance_confirmed", "required when the row gives"),
        ({"insurance_confirmed": "03/11/2025"}, "insurance_confirmed", "is not a date"),
        ({"insurance_confirmed": "2999-01-01"}, "insurance_confirmed", "is in the future"),
        ({"insurance_confirmed": "(clear)"}, "insurance_confirmed", "(clear) cannot empty this column"),
        ({"insurance": "(clear)", "insurance_confirmed": CONFIRMED}, "insurance_confirmed", "leave it blank"),
    ],
)
def test_bad_insurance_cells_reject_the_row_naming_row_column_and_reason(cells, column, reason):
    run_import(profile(insurance="medicare", insurance_confirmed=CONFIRMED))
    before = database_state()
    result = run_import(blank_row(**{"insurance_confirmed": CONFIRMED} | cells))
    assert result.rejected == 1
    [error] = result.errors
    assert (error.row, error.column) == (2, column)
    assert reason in error.reason
    assert database_state() == before


def test_a_date_alone_needs_insurance_on_file():
    run_import(profile())
    result = run_import(blank_row(insurance_confirmed=CONFIRMED))
    [error] = result.errors
    assert error.column == "insurance" and "not on file" in error.reason
    assert not practice().insurance_known


def test_a_date_alone_confirms_the_list_on_file_again():
    run_import(profile(insurance="medicare", insurance_confirmed=CONFIRMED))
    result = run_import(blank_row(insurance_confirmed="2025-12-24"))
    assert [str(change) for change in result.outcomes[0].diffs] == [f"insurance_confirmed: {CONFIRMED} → 2025-12-24"]
    assert codes(practice()) == ["medicare"] and practice().insurance_confirmed_on == datetime.date(2025, 12, 24)


def test_blank_cells_keep_the_curated_insurance():
    run_import(profile(insurance="medicare; humana", insurance_confirmed=CONFIRMED))
    before = database_state()
    result = run_import(blank_row(phone="312-555-0142"))
    assert result.updated == 1 and "insurance" not in result.outcomes[0].changes
    assert codes(practice()) == ["medicare", "humana"]
    assert database_state()["insurance"] == before["insurance"]


def test_none_is_a_confirmed_empty_list_and_clear_forgets_list_and_date():
    run_import(profile(insurance="medicare", insurance_confirmed=CONFIRMED))
    result = run_import(blank_row(insurance="None", insurance_confirmed="2025-12-01"))
    assert [str(change) for change in result.outcomes[0].diffs][0] == "insurance: medicare → none"
    assert codes(practice()) == [] and practice().insurance_known  # known: none of the listed

    result = run_import(blank_row(insurance="(clear)"))
    assert [str(change) for change in result.outcomes[0].diffs] == [
        "insurance: none → (blank)",
        "insurance_confirmed: 2025-12-01 → (blank)",
    ]
    assert codes(practice()) == [] and not practice().insurance_known


def test_a_new_practice_gets_its_insurance_with_one_history_entry_by_the_importing_user():
    curator = UserFactory()
    run_import(profile(insurance="medicaid; Self-Pay (no insurance)", insurance_confirmed=CONFIRMED), user=curator)
    office = practice()
    assert codes(office) == ["medicaid", "self_pay"]
    latest = office.history.first()
    assert (latest.history_user, latest.history_change_reason) == (curator, "Profiles CSV import, row 2")
    assert sorted(entry.insurance.code for entry in latest.insurance.all()) == ["medicaid", "self_pay"]
    assert office.history.filter(insurance_confirmed_on__isnull=False).count() == 1


def test_a_dry_run_writes_nothing():
    run_import(profile())
    before = database_state()
    result = run_import(blank_row(insurance="medicare", insurance_confirmed=CONFIRMED), dry_run=True)
    assert result.updated == 1
    assert database_state() == before


def test_a_row_without_any_practice_cannot_carry_insurance():
    result = run_import(
        {column: "" for column in COLUMNS}
        | {"npi": make_npi(1), "first_name": "Ada", "last_name": "Okafor", "specialty": "other"}
        | {"offers_conservative_care": "yes", "insurance": "medicare", "insurance_confirmed": CONFIRMED}
    )
    [error] = result.errors
    assert error.column == "insurance" and "belongs to a practice" in error.reason


def test_an_export_imported_again_changes_nothing():
    run_import(profile(insurance="tricare; va community care", insurance_confirmed=CONFIRMED))
    run_import(
        profile(npi=make_npi(2), practice_name="Other Demo Clinic", insurance="none", insurance_confirmed=CONFIRMED)
    )
    run_import(profile(npi=make_npi(3), practice_name="Third Demo Clinic"))
    out = io.StringIO()
    write_profiles_csv(profiles_for_export(Specialist.objects.order_by("npi")), out)
    cells = [(row["insurance"], row["insurance_confirmed"]) for row in csv.DictReader(io.StringIO(out.getvalue()))]
    assert cells == [("tricare; va_community_care", CONFIRMED), ("none", CONFIRMED), ("", "")]
    before = database_state()
    result = import_profiles(io.StringIO(out.getvalue()))
    assert result.unchanged == 3, result.report_lines()
    assert database_state() == before


def test_the_demo_gives_most_practices_confirmed_insurance(settings):
    from directory.management.commands.make_demo_fixture import build_demo_fixture

    today = timezone.localdate()
    practices = [o["fields"] for o in build_demo_fixture(today=today) if o["model"] == "directory.practice"]
    known = [fields for fields in practices if fields["insurance_confirmed_on"]]
    assert 0.6 < len(known) / len(practices) < 0.95  # and the rest say "not on file"
    assert all(datetime.date.fromisoformat(fields["insurance_confirmed_on"]) < today for fields in known)
    assert sum(["medicare"] in fields["insurance"] for fields in known) > len(known) / 2
