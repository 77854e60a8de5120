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
    select_past_year_volume,
    validate_npi,
)
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
