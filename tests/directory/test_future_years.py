"""Nothing depends on the current year: the admin's past-year view and the demo, with the clock moved ahead.

The factories and the demo generator date everything relative to today, so what holds now holds in any year.
"""

import datetime

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from directory.management.commands.setup_demo import load_demo_fixture
from directory.models import Procedure, RecordSource, Specialist, ZipCode
from referral.matching import find_specialists
from referral.search_index import refresh_search_entries
from tests.factories import CuratorFactory, ProcedureVolumeFactory, SpecialistFactory

FUTURE_DAYS = [
    datetime.datetime(2028, 6, 1, 12, tzinfo=datetime.UTC),
    datetime.datetime(2031, 1, 1, 12, tzinfo=datetime.UTC),
]
CHANGELIST = "/admin/directory/specialist/"


@pytest.fixture(params=FUTURE_DAYS, ids=lambda day: day.date().isoformat())
def moved_clock(request):
    with time_machine.travel(request.param, tick=False):
        yield request.param.date()


def changelist_names(client, query):
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    return sorted(s.first_name for s in response.context["cl"].result_list)


@pytest.mark.django_db
def test_the_admins_past_year_view_in_a_later_year(moved_clock):
    assert timezone.localdate() == moved_clock
    fresh = SpecialistFactory(first_name="Fresh")
    ProcedureVolumeFactory(specialist=fresh, count=30)  # the factory's period: last calendar year
    stale = SpecialistFactory(first_name="Stale")
    ProcedureVolumeFactory(
        specialist=stale,
        period_start=datetime.date(moved_clock.year - 4, 1, 1),
        period_end=datetime.date(moved_clock.year - 4, 12, 31),
    )
    client = Client()
    client.force_login(CuratorFactory())

    assert changelist_names(client, "past_year_counts=some") == ["Fresh"]
    assert changelist_names(client, "past_year_counts=none") == ["Stale"]
    page = client.get(CHANGELIST).content.decode()
    assert '<span class="sij-count">MIS fusion&nbsp;30</span>' in page
    assert fresh.past_year_volume(Procedure.MIS_SI_FUSION).period_end.year == moved_clock.year - 1
    assert stale.past_year_volume(Procedure.MIS_SI_FUSION) is None


@pytest.mark.django_db
def test_the_demos_past_year_counts_in_a_later_year(moved_clock, tmp_path):
    load_demo_fixture(tmp_path / "demo.json")
    refresh_search_entries()  # as setup_demo does after loading
    demo = Specialist.objects.filter(record_source=RecordSource.DEMO).prefetch_related("volumes")
    current = [s for s in demo if any(s.past_year_volume(p) for p in Procedure)]
    stale_only = [s for s in demo if s.volumes.all() and s not in current]
    assert len(current) > len(stale_only) > 0
    assert all(v.period_end.year < moved_clock.year - 2 for s in stale_only for v in s.volumes.all())

    result = find_specialists(origin=ZipCode.objects.get(code="60611"), radius_miles=25)
    assert result.count >= 5
    facts = [fact for match in result.matches for fact in match.facts]
    assert any(str(moved_clock.year - 1) in fact for fact in facts)  # counts for last year, as of the moved day
