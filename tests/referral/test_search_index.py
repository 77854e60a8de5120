"""The search index follows every way the directory changes: admin actions, imports, saves, fixtures."""

import importlib
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from bench.public_files import CMS_HEADER, NPPES_HEADER, cms_row, nppes_deactivated_row, write_csv
from directory import geo
from directory.importers.profiles import import_profiles, profiles_for_export, write_profiles_csv
from directory.models import Specialist, batch_changes, specialists_touched
from referral.models import SearchEntry
from tests.factories import ProcedureVolumeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/directory/specialist/"


def indexed(specialist) -> bool:
    return SearchEntry.objects.filter(specialist=specialist).exists()


@pytest.mark.parametrize(("action", "before", "after"), [("publish", False, True), ("unpublish", True, False)])
def test_admin_publish_actions_update_the_index(curator_client, action, before, after):
    specialist = SpecialistFactory(is_published=before)
    assert indexed(specialist) is before

    curator_client.post(CHANGELIST, {"action": action, "_selected_action": [specialist.pk]})

    assert indexed(specialist) is after


def test_cms_import_refreshes_the_counts_the_search_filters_on(tmp_path):
    specialist = SpecialistFactory()
    assert SearchEntry.objects.get(specialist=specialist).past_year_mis_fusions is None
    path = write_csv(tmp_path / "MUP_PHY_R26_P05_V10_D25_Prov_Svc.csv", CMS_HEADER, [cms_row(specialist.npi, "27279")])

    call_command("import_cms", str(path), stdout=io.StringIO())

    assert SearchEntry.objects.get(specialist=specialist).past_year_mis_fusions == 14


def test_nppes_deactivation_takes_the_profile_out_of_the_index(tmp_path):
    specialist = SpecialistFactory()
    path = write_csv(
        tmp_path / "npidata_pfile.csv", NPPES_HEADER, [nppes_deactivated_row(specialist.npi)], quote_all=True
    )

    call_command("import_nppes", str(path), stdout=io.StringIO())

    assert not indexed(specialist)


def test_profiles_import_indexes_new_published_specialists():
    specialist = SpecialistFactory(is_published=True)
    ProcedureVolumeFactory(specialist=specialist, count=21)
    out = io.StringIO()
    write_profiles_csv(profiles_for_export(Specialist.objects.all()), out)
    Specialist.objects.all().delete()

    import_profiles(io.StringIO(out.getvalue()))

    imported = Specialist.objects.get()
    assert SearchEntry.objects.get(specialist=imported).past_year_mis_fusions == 21


def test_a_batch_refreshes_each_specialist_once_at_the_end():
    specialist = SpecialistFactory()
    with batch_changes():
        for count in (5, 6, 7):
            ProcedureVolumeFactory(
                specialist=specialist,
                count=count,
                period_start=f"20{count + 18}-01-01",
                period_end=f"20{count + 18}-12-31",
            )
        assert SearchEntry.objects.get(specialist=specialist).past_year_mis_fusions is None  # not yet
    assert SearchEntry.objects.get(specialist=specialist).past_year_mis_fusions == 7  # 2025, the latest


def test_nothing_is_announced_when_the_batch_fails():
    specialist = SpecialistFactory()
    SearchEntry.objects.all().delete()
    with pytest.raises(RuntimeError), batch_changes():
        specialists_touched([specialist.pk])
        raise RuntimeError
    assert not indexed(specialist)


def test_fixture_loads_leave_indexing_to_refresh_search_index(tmp_path):
    specialist = SpecialistFactory()
    fixture = tmp_path / "one.json"
    call_command(
        "dumpdata",
        "directory.specialist",
        "directory.practice",
        "directory.affiliation",
        output=str(fixture),
        stdout=io.StringIO(),
    )
    SearchEntry.objects.all().delete()

    call_command("loaddata", str(fixture), stdout=io.StringIO())
    assert not indexed(specialist)  # raw saves skip the per-save refresh (setup_demo rebuilds once)

    call_command("refresh_search_index", stdout=io.StringIO())
    assert indexed(specialist)


def test_migration_0004_fills_names_and_bands_and_ages_the_rows():
    from django.apps import apps

    migration = importlib.import_module("referral.migrations.0004_search_entry_page_text")
    specialist = SpecialistFactory(last_name="Straße", first_name="Ana")
    SearchEntry.objects.filter(specialist=specialist).update(last_name_key="", band=0)
    migration.fill_names_and_age(apps, None)
    entry = SearchEntry.objects.get(specialist=specialist)
    assert (entry.last_name_key, entry.first_name_key) == ("strasse", "ana")
    assert entry.band == geo.latitude_band(entry.latitude)
    assert entry.valid_until < timezone.localdate()  # aged: searches recompute it until the next refresh
