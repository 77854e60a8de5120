import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from directory.models import (
    CoordinatesSource,
    Practice,
    Procedure,
    ProcedureVolume,
    Specialist,
    VolumeSource,
    validate_npi,
)
from directory.volumes import select_past_year_volume
from tests.factories import ProcedureVolumeFactory, SpecialistFactory, TrainingFactory


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1003000126"])
def test_valid_npis_pass(npi):
    validate_npi(npi)


@pytest.mark.parametrize(
    ("npi", "message"),
    [
        ("1234567890", "wrong check digit"),
        ("1245319598", "wrong check digit"),
        ("123456789", "exactly 10 digits"),
        ("12345678931", "exactly 10 digits"),
        ("12345678a3", "exactly 10 digits"),
        ("", "exactly 10 digits"),
    ],
)
def test_invalid_npis_fail(npi, message):
    with pytest.raises(ValidationError, match=message):
        validate_npi(npi)


def _violates(**kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcedureVolumeFactory(**kwargs)


@pytest.mark.django_db
def test_npi_is_unique_when_present_and_many_may_be_missing():
    SpecialistFactory(npi="1234567893")
    SpecialistFactory(npi=None)
    SpecialistFactory(npi=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        SpecialistFactory(npi="1234567893")
    assert Specialist.objects.filter(npi__isnull=True).count() == 2


@pytest.mark.django_db
def test_blank_npi_string_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        SpecialistFactory(npi="")


@pytest.mark.django_db
def test_volume_count_cannot_be_negative():
    _violates(count=-1)


@pytest.mark.django_db
def test_volume_period_cannot_end_before_it_starts():
    _violates(period_start=datetime.date(2025, 12, 31), period_end=datetime.date(2025, 1, 1))


@pytest.mark.django_db
def test_one_volume_per_specialist_procedure_period_and_source():
    first = ProcedureVolumeFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcedureVolumeFactory(specialist=first.specialist)
    ProcedureVolumeFactory(specialist=first.specialist, source=VolumeSource.CMS_MEDICARE)  # another source is fine
    assert first.specialist.volumes.count() == 2


@pytest.mark.django_db
def test_suppressed_volume_cannot_carry_a_count():
    _violates(is_suppressed=True, count=5)


@pytest.mark.django_db
def test_training_year_must_be_plausible():
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingFactory(year=1800)


@pytest.mark.django_db
def test_practice_coordinates_come_from_its_zip_unless_set_by_hand():
    practice = Practice.objects.create(name="Demo Clinic", zip_code="10001")
    assert practice.coordinates_source == CoordinatesSource.ZIP_CENTROID
    assert practice.latitude == pytest.approx(40.75, abs=0.05)

    practice.zip_code = "60611"
    practice.save()
    assert practice.latitude == pytest.approx(41.89, abs=0.05)

    practice.latitude, practice.longitude = 41.9, -87.7
    practice.coordinates_source = CoordinatesSource.MANUAL
    practice.zip_code = "10001"
    practice.save()
    assert practice.point == (41.9, -87.7)


@pytest.mark.django_db
def test_practice_with_unknown_zip_has_no_coordinates():
    practice = Practice.objects.create(name="Demo Clinic", zip_code="00000")
    assert practice.point is None and practice.coordinates_source == ""


def _volume(end, *, start=None, source=VolumeSource.SELF_REPORTED, verified=False, procedure=Procedure.MIS_SI_FUSION):
    return ProcedureVolume(
        procedure=procedure,
        period_start=start or end.replace(year=end.year - 1) + datetime.timedelta(days=1),
        period_end=end,
        count=10,
        source=source,
        verified=verified,
    )


TODAY = datetime.date(2026, 11, 21)


def test_past_year_picks_the_latest_period_within_the_window():
    old, recent = _volume(datetime.date(2024, 12, 31)), _volume(datetime.date(2025, 12, 31))
    assert select_past_year_volume([old, recent], Procedure.MIS_SI_FUSION, today=TODAY) is recent


def test_counts_older_than_the_window_do_not_count():
    stale = _volume(datetime.date(2024, 10, 31))  # ended 24 months + 3 weeks ago
    assert select_past_year_volume([stale], Procedure.MIS_SI_FUSION, today=TODAY) is None


def test_periods_that_are_not_a_year_do_not_count():
    quarter = _volume(datetime.date(2026, 9, 30), start=datetime.date(2026, 7, 1))
    assert select_past_year_volume([quarter], Procedure.MIS_SI_FUSION, today=TODAY) is None


def test_same_period_prefers_verified_then_the_more_complete_source():
    end = datetime.date(2025, 12, 31)
    cms = _volume(end, source=VolumeSource.CMS_MEDICARE)
    self_reported = _volume(end)
    verified_cms = _volume(end, source=VolumeSource.CMS_MEDICARE, verified=True)
    assert select_past_year_volume([cms, self_reported], Procedure.MIS_SI_FUSION, today=TODAY) is self_reported
    assert select_past_year_volume([cms, self_reported, verified_cms], Procedure.MIS_SI_FUSION, today=TODAY) is (
        verified_cms
    )


def test_other_procedures_are_ignored():
    injection = _volume(datetime.date(2025, 12, 31), procedure=Procedure.SI_INJECTION)
    assert select_past_year_volume([injection], Procedure.MIS_SI_FUSION, today=TODAY) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"zip_code": "09001"}, "09001 is a military (APO/FPO/DPO) address with no fixed location: it cannot"),
        ({"zip_code": "88888"}, "88888 (North Pole, DC) serves a single organisation and has no known location:"),
        ({"zip_code": "60611", "state": "QC"}, "outside the US states and territories (QC): kept out of the search"),
        ({"zip_code": ""}, "No ZIP and no coordinates"),
    ],
)
def test_practice_at_a_zip_no_one_can_be_placed_at_stays_unplaced_and_says_why(fields, problem):
    practice = Practice.objects.create(name="Clinic", **fields)
    assert practice.point is None and practice.coordinates_source == ""
    assert problem in practice.location_problem()


@pytest.mark.django_db
def test_practice_at_an_estimated_zip_is_placed():
    practice = Practice.objects.create(name="Clinic", zip_code="11805", state="NY")
    assert practice.point is not None and practice.location_problem() == ""


@pytest.mark.django_db
@pytest.mark.parametrize("point", [(0.0, 0.0), (41.9, 87.6), (45.5, -73.6 + 360)])
def test_practice_is_never_stored_at_0_0_or_outside_the_us(point):
    practice = Practice(
        name="Clinic", latitude=point[0], longitude=point[1], coordinates_source=CoordinatesSource.MANUAL
    )
    with pytest.raises(ValidationError, match="outside the US states and territories"):
        practice.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        practice.save()


@pytest.mark.django_db
@pytest.mark.parametrize("point", [(61.2, -149.9), (52.0, 177.5), (13.47, 144.75), (-14.28, -170.7), (18.3, -64.9)])
def test_practice_may_be_set_by_hand_anywhere_in_the_us_and_its_territories(point):
    practice = Practice(
        name="Clinic", latitude=point[0], longitude=point[1], coordinates_source=CoordinatesSource.MANUAL
    )
    practice.full_clean()
    practice.save()
    assert Practice.objects.get(pk=practice.pk).point == point


# --- history -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rows_written_without_saves_get_one_baseline_history_entry():
    from directory.history import BASELINE_REASON, add_baseline_history

    with_history = SpecialistFactory()
    bulk = Specialist.objects.bulk_create([Specialist(first_name="Bulk", last_name=f"Row{i}") for i in range(3)])
    assert not Specialist.history.filter(id__in=[s.pk for s in bulk]).exists()

    created = add_baseline_history((Specialist,))

    assert created == 3
    for specialist in bulk:
        (baseline,) = specialist.history.all()
        assert (baseline.history_type, baseline.history_change_reason) == ("+", BASELINE_REASON)
        assert baseline.first_name == "Bulk"
    assert with_history.history.count() == 1  # untouched
    assert add_baseline_history((Specialist,)) == 0  # idempotent


@pytest.mark.django_db
def test_demo_profiles_have_a_baseline_history(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.DEBUG = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("setup_demo", stdout=StringIO())
    demo = Specialist.objects.filter(record_source="demo")
    assert demo.exists()
    assert not demo.exclude(pk__in=Specialist.history.values("id")).exists()
    assert not Practice.objects.exclude(pk__in=Practice.history.values("id")).exists()


@pytest.mark.django_db(transaction=True)
def test_the_history_migration_gives_existing_profiles_a_baseline():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("directory", "0011_curators_verification_queue")], [("directory", "0012_baseline_history")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        OldSpecialist = executor.loader.project_state(before).apps.get_model("directory", "Specialist")
        old = OldSpecialist.objects.create(first_name="Before", last_name="History")  # no history: no signals here
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    (baseline,) = Specialist.objects.get(pk=old.pk).history.all()
    assert baseline.history_change_reason.startswith("Baseline") and baseline.last_name == "History"


@pytest.mark.django_db
def test_baseline_history_command_reports_what_it_added():
    from io import StringIO

    from django.core.management import call_command

    Specialist.objects.bulk_create([Specialist(first_name="Bulk", last_name="Row")])
    out = StringIO()
    call_command("baseline_history", stdout=out)
    assert "Added 1 baseline history entries." in out.getvalue()
