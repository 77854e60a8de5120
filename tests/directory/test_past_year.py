"""The past-year rule exists twice, in Python (select_past_year_volume) and in SQL (past_year()): they must agree."""

import datetime

import pytest

from directory.models import ProcedureVolume, Specialist
from directory.volumes import add_months, select_past_year_volume
from tests.factories import ProcedureVolumeFactory, SpecialistFactory

TODAY = datetime.date(2026, 6, 15)
OLDEST_END = add_months(TODAY, -24)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("period_end", "days", "counts"),
    [
        (TODAY, 364, True),
        (TODAY, 333, False),  # too short to be a year
        (TODAY, 334, True),
        (TODAY, 396, True),
        (TODAY, 397, False),  # too long
        (OLDEST_END, 364, True),  # the oldest end that still counts
        (OLDEST_END - datetime.timedelta(days=1), 364, False),  # stale
        (TODAY + datetime.timedelta(days=1), 364, False),  # not over yet
    ],
)
def test_sql_and_python_past_year_rules_agree(period_end, days, counts):
    volume = ProcedureVolumeFactory(period_end=period_end, period_start=period_end - datetime.timedelta(days=days))
    python_says = select_past_year_volume([volume], volume.procedure, today=TODAY) is not None
    sql_says = ProcedureVolume.objects.past_year(today=TODAY).filter(pk=volume.pk).exists()
    assert python_says == sql_says == counts
    without = Specialist.objects.without_past_year_volume(today=TODAY)
    assert without.filter(pk=volume.specialist_id).exists() is not counts
    assert Specialist.objects.with_past_year_volume(today=TODAY).filter(pk=volume.specialist_id).exists() is counts


@pytest.mark.django_db
def test_specialist_without_any_count_has_no_past_year_volume():
    specialist = SpecialistFactory()
    assert list(Specialist.objects.without_past_year_volume(today=TODAY)) == [specialist]
