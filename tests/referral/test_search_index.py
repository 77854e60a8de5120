"""The search index follows every way the directory changes: admin actions, imports, saves, fixtures."""

import dataclasses
import datetime
import importlib
import io
from contextlib import contextmanager

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bench.public_files import CMS_HEADER, NPPES_HEADER, cms_row, nppes_deactivated_row, write_csv
from directory import geo
from directory.importers.profiles import import_profiles, profiles_for_export, write_profiles_csv
from directory.models import (
    Procedure,
    Specialist,
    VolumeSource,
    batch_changes,
    specialists_changed,
    specialists_touched,
)
from directory.volumes import wording_key
from referral import ranking
from referral.models import SearchEntry
from tests.directory.test_admin import specialist_form_data
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory, TrainingFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/directory/specialist/"


def indexed(specialist) -> bool:
    return SearchEntry.objects.filter(specialist=specialist).exists()


@pytest.mark.parametrize(("action", "before", "after"), [("publish", False, True), ("unpublish", True, False)])
def test_admin_publish_actions_update_the_index(curator_client, action, before, after):
    specialist = SpecialistFactory(is_published=before, offers_rf_ablation=True)  # publishable (review gate)
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
    last_year = timezone.localdate().year - 1
    with refreshes() as counted, batch_changes():
        for count, year in ((5, last_year - 2), (6, last_year - 1), (7, last_year)):
            ProcedureVolumeFactory(
                specialist=specialist,
                count=count,
                period_start=datetime.date(year, 1, 1),
                period_end=datetime.date(year, 12, 31),
            )
        assert SearchEntry.objects.get(specialist=specialist).past_year_mis_fusions is None  # not yet
    assert SearchEntry.objects.get(specialist=specialist).past_year_mis_fusions == 7  # last year's, the latest
    assert len(counted) == 1


@contextmanager
def refreshes():
    """Collect the search index refreshes run inside: the specialists each announcement refreshed."""
    found = []

    def receiver(sender, ids, **kwargs):
        found.append(set(ids))

    specialists_changed.connect(receiver, dispatch_uid="test-refreshes")
    try:
        yield found
    finally:
        specialists_changed.disconnect(dispatch_uid="test-refreshes")


def test_an_admin_save_with_many_inline_rows_refreshes_the_specialist_once(curator_client):
    practices = [PracticeFactory(zip_code="60611"), PracticeFactory(zip_code="60614")]
    specialist = SpecialistFactory(practices=practices)
    year = timezone.localdate().year - 1
    data = specialist_form_data(specialist, credentials="MD, PhD", offers_mis_si_fusion="on")
    data |= {"trainings-TOTAL_FORMS": 2, "volumes-TOTAL_FORMS": 3}
    for index, course in enumerate(["MIS SI-joint fusion course", "SI-joint injection workshop"]):
        data |= {f"trainings-{index}-course": course, f"trainings-{index}-year": year}
    for index, (procedure, count) in enumerate([("mis_si_fusion", 12), ("si_injection", 40), ("rf_ablation", 9)]):
        data |= {
            f"volumes-{index}-procedure": procedure,
            f"volumes-{index}-period_start": f"{year}-01-01",
            f"volumes-{index}-period_end": f"{year}-12-31",
            f"volumes-{index}-count": count,
            f"volumes-{index}-source": "self_reported",
        }

    with refreshes() as counted:
        response = curator_client.post(f"/admin/directory/specialist/{specialist.pk}/change/", data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert specialist.trainings.count() == 2 and specialist.volumes.count() == 3  # 1 + 2 + 3 rows saved …
    assert len(counted) == 1  # … and the specialist's search entries rebuilt once
    entries = SearchEntry.objects.filter(specialist=specialist)
    assert {e.practice_id for e in entries} == {p.pk for p in practices}
    assert all(e.past_year_mis_fusions == 12 and e.mis_fusion == 1.0 and e.training == 0.75 for e in entries)


def test_an_unpublishing_admin_save_takes_the_profile_out_of_the_search_at_once(curator_client):
    client = Client()  # a patient, not the curator (whose pages show the admin's messages)
    specialist = SpecialistFactory(last_name="Hidden")
    assert "Hidden" in client.get("/search/", {"zip": "60611"}).content.decode()
    data = specialist_form_data(specialist)
    del data["is_published"]

    with refreshes() as counted:
        response = curator_client.post(f"/admin/directory/specialist/{specialist.pk}/change/", data)

    assert response.status_code == 302 and len(counted) == 1
    assert not indexed(specialist)
    assert "Hidden" not in client.get("/search/", {"zip": "60611"}).content.decode()


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


def test_a_refresh_updates_changed_rows_in_place_removes_gone_ones_and_skips_unchanged():
    from referral.search_index import sync_search_entries

    moved, kept = PracticeFactory(zip_code="60611"), PracticeFactory(zip_code="60614")
    specialist = SpecialistFactory(practices=[moved, kept])
    other = SpecialistFactory()
    before = {e.practice_id: e.pk for e in SearchEntry.objects.filter(specialist=specialist)}
    assert sync_search_entries() == (0, 0, 3)  # idempotent: nothing written
    # Bypass the announcements: the specialist's facts change, one of its practices loses its coordinates, the
    # other specialist leaves.
    accepting = not specialist.accepting_new_patients
    Specialist.objects.filter(pk=specialist.pk).update(accepting_new_patients=accepting)
    type(moved).objects.filter(pk=moved.pk).update(latitude=None, longitude=None)
    Specialist.objects.filter(pk=other.pk).update(is_published=False)

    assert sync_search_entries() == (1, 2, 0)

    assert not indexed(other)
    entry = SearchEntry.objects.get(specialist=specialist)
    assert entry.pk == before[kept.pk] and entry.availability == float(accepting)  # updated in place, same id
    assert sync_search_entries() == (0, 0, 1)


@pytest.mark.parametrize("chunk", [1, 2])
def test_a_full_rebuild_in_chunks_matches_one_pass(monkeypatch, chunk):
    from referral import search_index

    specialists = [SpecialistFactory() for _ in range(3)]
    Specialist.objects.filter(pk=specialists[1].pk).update(is_published=False)
    SearchEntry.objects.filter(specialist=specialists[2]).delete()
    monkeypatch.setattr(search_index, "CHUNK", chunk)
    assert search_index.sync_search_entries() == (1, 1, 1)
    assert [indexed(s) for s in specialists] == [True, False, True]


def test_the_rebuild_command_analyses_inside_a_transaction():
    out = io.StringIO()
    SpecialistFactory()
    call_command("refresh_search_index", stdout=out, verbosity=0)
    assert "1 unchanged; then ANALYZE" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_rebuild_command_vacuums_on_postgresql_outside_a_transaction():
    out = io.StringIO()
    SpecialistFactory()
    call_command("refresh_search_index", stdout=out, verbosity=0)
    expected = "VACUUM (ANALYZE)" if connection.vendor == "postgresql" else "ANALYZE"
    assert f"then {expected}" in out.getvalue()


def test_a_refresh_of_unchanged_data_writes_nothing_on_the_same_day_or_a_later_one():
    from referral.search_index import sync_search_entries

    today = timezone.localdate()
    # Rows of every kind: no counts (valid_until is the one-year cap), a suppressed and a stale count, a recent
    # verification (which ages), trainings, two practices.
    plain = SpecialistFactory(verified_at=None, practices=[PracticeFactory(zip_code="60611")])
    counted = SpecialistFactory(
        verified_at=timezone.now() - datetime.timedelta(days=20),
        practices=[PracticeFactory(zip_code="60611"), PracticeFactory(zip_code="60614")],
    )
    ProcedureVolumeFactory(specialist=counted, count=None, is_suppressed=True, source="cms_medicare")
    ProcedureVolumeFactory(
        specialist=counted,
        procedure="si_injection",
        period_start=datetime.date(today.year - 4, 1, 1),
        period_end=datetime.date(today.year - 4, 12, 31),
    )
    TrainingFactory(specialist=counted)
    TrainingFactory(specialist=counted, course="Cadaver lab", year=None)
    capped = SearchEntry.objects.get(specialist=plain)
    assert capped.valid_until == today + datetime.timedelta(days=365)
    stored = {entry.pk: (entry.valid_until, entry.explanation) for entry in SearchEntry.objects.all()}

    assert sync_search_entries() == (0, 0, 3)
    assert sync_search_entries(SearchEntry.objects.values_list("specialist_id", flat=True)) == (0, 0, 3)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
        # The cap moved a day on; the stored date still holds, so nothing is rewritten.
        assert sync_search_entries() == (0, 0, 3)
    assert {entry.pk: (entry.valid_until, entry.explanation) for entry in SearchEntry.objects.all()} == stored

    with time_machine.travel(timezone.now() + datetime.timedelta(days=366)):
        # Past the stored date: the rows are recomputed (and would be by the search on the fly).
        refreshed = sync_search_entries()
    assert refreshed.written >= 1 and refreshed.removed == 0
    assert SearchEntry.objects.get(pk=capped.pk).valid_until > capped.valid_until


def test_rows_computed_from_other_inputs_are_recomputed_once():
    """A row whose digest does not match (here the empty one migration 0009 gives existing rows, or one of an
    older release's code) is recomputed and rewritten, and then left alone."""
    from referral.search_index import sync_search_entries

    specialist = SpecialistFactory(practices=[PracticeFactory(zip_code="60611"), PracticeFactory(zip_code="60614")])
    stored = {entry.pk: entry.explanation for entry in SearchEntry.objects.filter(specialist=specialist)}
    SearchEntry.objects.filter(specialist=specialist).update(inputs="", explanation={})

    assert sync_search_entries() == (2, 0, 0)
    assert {entry.pk: entry.explanation for entry in SearchEntry.objects.filter(specialist=specialist)} == stored
    assert sync_search_entries() == (0, 0, 2)


@pytest.mark.parametrize(
    "change",
    [
        {"last_name": "Other"},
        {"accepting_new_patients": False},
        {"offers_mis_si_fusion": False},
        {"verified_at": None},
    ],
)
def test_the_inputs_digest_changes_with_every_indexed_fact(change):
    from referral.search_index import inputs_digest, load_chunk

    specialist = SpecialistFactory(accepting_new_patients=True, offers_mis_si_fusion=True, verified_at=timezone.now())
    ProcedureVolumeFactory(specialist=specialist)
    TrainingFactory(specialist=specialist)
    ((loaded, volumes, trainings, _places),) = load_chunk([specialist.pk])
    digest = inputs_digest(loaded, volumes, trainings)
    assert inputs_digest(loaded, volumes, trainings) == digest  # the same facts, the same digest
    assert inputs_digest(loaded, volumes[:-1], trainings) != digest
    assert inputs_digest(loaded, volumes, trainings[:-1]) != digest

    Specialist.objects.filter(pk=specialist.pk).update(**change)
    ((changed, *_rest),) = load_chunk([specialist.pk])
    assert inputs_digest(changed, volumes, trainings) != digest


def test_the_inputs_digest_changes_with_the_sites_languages(settings):
    from referral.search_index import inputs_digest, load_chunk

    specialist = SpecialistFactory()
    ((loaded, volumes, trainings, _places),) = load_chunk([specialist.pk])
    digest = inputs_digest(loaded, volumes, trainings)
    settings.LANGUAGES = [("en", "English")]
    assert inputs_digest(loaded, volumes, trainings) != digest


def ranked(candidate, today):
    """Everything the index stores that the ranking derives from a candidate, in both languages."""
    experience = ranking.assess_experience(candidate.volumes, today)
    worded = [
        (
            ranking.static_results(candidate, today, experience, language=language),
            ranking.key_facts(candidate, today=today, experience=experience, language=language),
        )
        for language in ("en", "es")
    ]
    return worded, ranking.static_parts_valid_until(candidate, today)


counts = st.tuples(
    st.sampled_from([Procedure.MIS_SI_FUSION, Procedure.OPEN_SI_FUSION, Procedure.SI_INJECTION]),
    st.none() | st.integers(0, 40),
    st.integers(2022, 2026),  # the period's year
    st.booleans(),  # a full year (or half of one)
    st.sampled_from([VolumeSource.SELF_REPORTED, VolumeSource.CMS_MEDICARE]),
    st.booleans(),  # verified
)
trainings = st.tuples(st.sampled_from(["Course A", "Course B"]), st.none() | st.sampled_from([2019, 2024]))


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    counts=st.lists(counts, max_size=5, unique_by=lambda c: (c[0], c[2], c[3], c[4])),  # one per period and source
    trainings=st.lists(trainings, max_size=4),
    verified=st.booleans(),
)
def test_the_refresh_candidate_from_plain_values_is_the_one_from_model_instances(counts, trainings, verified):
    """The refresh loads counts and trainings as plain values (load_chunk); the search's page and the profile
    use model instances (candidate_from_specialist): both must rank and word a specialist alike."""
    from referral.matching import candidate_from_specialist, candidate_from_values
    from referral.search_index import load_chunk

    today = timezone.localdate()
    with transaction.atomic():
        specialist = SpecialistFactory(verified_at=timezone.now() if verified else None)
        for procedure, count, year, full, source, is_verified in counts:
            ProcedureVolumeFactory(
                specialist=specialist,
                procedure=procedure,
                count=count,
                is_suppressed=count is None,
                period_start=datetime.date(year, 1 if full else 7, 1),
                period_end=datetime.date(year, 12, 31),
                source=source,
                verified=is_verified,
            )
        for course, year in trainings:  # equal years: the latest is the last recorded
            TrainingFactory(specialist=specialist, course=course, year=year)
        (loaded,) = load_chunk([specialist.pk])
        specialist, volumes, trainings_, _places = loaded
        plain = candidate_from_values(specialist, 0.0, volumes, trainings_)
        instances = candidate_from_specialist(
            Specialist.objects.prefetch_related("volumes", "trainings").get(pk=specialist.pk), 0.0
        )
        transaction.set_rollback(True)
    assert len(plain.volumes) == len(counts) and all(isinstance(v, ranking.Volume) for v in plain.volumes)
    # The same counts (in Meta order, whose ties, here two periods of one year's end, come as the database
    # gives them: the ranking's choice never rests on them).
    assert sorted(((*wording_key(v), v.is_suppressed) for v in plain.volumes), key=repr) == sorted(
        ((*wording_key(v), v.is_suppressed) for v in instances.volumes), key=repr
    )
    assert dataclasses.replace(plain, volumes=()) == dataclasses.replace(instances, volumes=())
    assert plain.training_count == len(trainings)
    assert ranked(plain, today) == ranked(instances, today)
