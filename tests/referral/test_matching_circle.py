"""The circle's counting: the process's copy of the index (referral.matching.scan_resident) or the database
(circle_query) counts the specialists surely within the radius and returns only those that may make the page.
The page, the count and the order must be exactly what ranking every published specialist in Python gives,
whatever the page, its size, the order and the radius."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from directory import geo
from directory.models import Service, Specialist, ZipCode
from referral import matching, ranking, resident
from referral.matching import find_specialists, match_specialist, profile_queryset
from referral.ranking import Situation
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory
from tests.referral.test_matching import last_year

pytestmark = pytest.mark.django_db

# Around Chicago 60611, from next door to ~130 miles: the radii below cut between them.
ZIPS = ["60611", "60614", "60601", "60007", "60540", "60435", "46320", "60115", "53140", "53202", "61101", "61801"]


def place(code):
    zip_code = ZipCode.objects.get(code=code)
    return PracticeFactory(zip_code=code, city=zip_code.city, state=zip_code.state)


@st.composite
def fields(draw):
    """Specialists as plain facts: one or two practices, services, a past-year MIS count, accepting or not."""
    return [
        {
            "zips": draw(st.lists(st.sampled_from(ZIPS), min_size=1, max_size=2)),
            "services": draw(st.sets(st.sampled_from(Service.values), max_size=4)),
            "mis_fusions": draw(st.one_of(st.none(), st.integers(1, 60))),
            "name": draw(st.sampled_from(["Abbott", "Baker"])),
            "accepting": draw(st.booleans()),
        }
        for _ in range(draw(st.integers(0, 14)))
    ]


def create(profile):
    specialist = SpecialistFactory(
        last_name=profile["name"],
        first_name="Ann",
        practices=[place(code) for code in profile["zips"]],
        accepting_new_patients=profile["accepting"],
        **{service: True for service in profile["services"]},
    )
    if profile["mis_fusions"] is not None:
        start, end = last_year()
        ProcedureVolumeFactory(specialist=specialist, period_start=start, period_end=end, count=profile["mis_fusions"])


def brute_force(origin, radius_miles, situation, sort):
    """Every published specialist measured and ranked in Python: (count, every result in order)."""
    miles_to = geo.distance_from(origin.point)
    within = []
    for specialist in profile_queryset():
        located = [miles_to(p.point) for p in specialist.practices.all() if p.point]
        if located and min(located) <= radius_miles:
            within.append(match_specialist(specialist=specialist, origin=origin, situation=situation))

    def key(m):
        names = (m.specialist.last_name.casefold(), m.specialist.first_name.casefold(), m.specialist.pk)
        return (m.distance_miles, -m.score, *names) if sort == "distance" else (-m.score, m.distance_miles, *names)

    return len(within), sorted(within, key=key)


def summary(matches):
    return [(m.specialist.pk, m.practice.pk, m.distance_miles, m.score) for m in matches]


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=fields(),
    radius=st.sampled_from([3, 10, 30, 60, 100, 200]),
    page=st.integers(1, 3),
    page_size=st.integers(1, 4),
    sort=st.sampled_from(ranking.SORTS),
    situation=st.sampled_from([Situation(), Situation(diagnostic_injection="relieved", conservative_months=8)]),
)
def test_a_page_is_what_ranking_everyone_gives(field, radius, page, page_size, sort, situation):
    origin = ZipCode.objects.get(code="60611")
    with transaction.atomic():
        for profile in field:
            create(profile)
        result = find_specialists(
            origin=origin, radius_miles=radius, situation=situation, sort=sort, page=page, page_size=page_size
        )
        count, ordered = brute_force(origin, radius, situation, sort)
        transaction.set_rollback(True)
    start = (page - 1) * page_size
    assert result.count == count
    assert summary(result.matches) == summary(ordered[start : start + page_size])
    assert result.has_next == (start + page_size < count)


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=fields(),
    radius=st.sampled_from([3, 10, 30, 60, 100, 200]),
    top=st.integers(1, 8),
    sort=st.sampled_from(ranking.SORTS),
    min_mis_fusions=st.sampled_from([None, 20]),
)
def test_counting_in_memory_in_the_database_or_measuring_every_row_ranks_the_same(
    field, radius, top, sort, min_mis_fusions
):
    origin, today, weights = ZipCode.objects.get(code="60611"), timezone.localdate(), ranking.weights_for(Situation())

    def ranked(way):
        if way == "memory, counting":  # the copy's counting, which by default only circles of hundreds of rows take
            copy = resident.current(connection.alias)
            arguments = (copy, origin, radius, today, weights, sort, top, min_mis_fusions)
            nearby, counted = matching.scan_resident(*arguments, measure_all_up_to=0)
        else:
            nearby, counted = matching.candidates(
                None, origin, radius, today, weights, sort, top, min_mis_fusions, None, way=way
            )
        return matching.rank(nearby, weights, sort, today, min_mis_fusions, top, counted)

    with transaction.atomic():
        for profile in field:
            create(profile)
        counting, measuring, by_database, by_row = (ranked(way) for way in ("memory, counting", *matching.WAYS))
        transaction.set_rollback(True)
    assert counting == measuring == by_database == by_row


@pytest.mark.parametrize("sort", ranking.SORTS)
@pytest.mark.parametrize("way", [matching.IN_MEMORY, matching.IN_DATABASE])
def test_the_count_includes_those_that_cannot_make_the_page(sort, way):
    origin = ZipCode.objects.get(code="60611")
    for index, code in enumerate(ZIPS * 3):
        create({"zips": [code], "services": set(), "mis_fusions": index + 1, "name": "Abbott", "accepting": True})
    weights, today = ranking.weights_for(Situation()), timezone.localdate()
    if way == matching.IN_MEMORY:  # counting, as for a circle of more than MEASURE_ALL_UP_TO rows
        copy = resident.current(connection.alias)
        nearby, counted = matching.scan_resident(copy, origin, 100, today, weights, sort, 2, None, measure_all_up_to=0)
    else:
        nearby, counted = matching.scan_circle(None, origin, 100, today, weights, sort, 2, None, None)
    assert counted > 0  # some were counted, not returned
    assert len(nearby) + counted == find_specialists(origin=origin, radius_miles=100, sort=sort).count


def test_a_large_circle_is_counted_by_the_database_on_the_databases_we_run(settings):
    """Without the copy in memory (SIJ_SEARCH_IN_MEMORY off), CI's SQLite (3.40) and PostgreSQL run
    circle_query(); an SQLite older than 3.35 would take the per-row path (can_count_in_database), which the
    tests above show ranks the same."""
    assert matching.can_count_in_database("default")
    origin = ZipCode.objects.get(code="60611")
    for code in ZIPS:
        create({"zips": [code], "services": set(), "mis_fusions": 3, "name": "Abbott", "accepting": True})

    def counting_query(radius_miles):
        with CaptureQueriesContext(connection) as queries:
            find_specialists(origin=origin, radius_miles=radius_miles)
        return any("MATERIALIZED" in query["sql"] for query in queries.captured_queries)

    assert not counting_query(matching.COUNT_IN_DATABASE_MILES)  # counted in memory
    settings.SIJ_SEARCH_IN_MEMORY = False
    assert counting_query(matching.COUNT_IN_DATABASE_MILES)
    assert not counting_query(matching.COUNT_IN_DATABASE_MILES - 1)


def test_a_narrowed_search_is_counted_by_the_database():
    """The FilterSet's queryset and an insurance need the directory's tables: the copy does not hold them."""
    origin = ZipCode.objects.get(code="60611")
    for code in ZIPS:
        create({"zips": [code], "services": set(), "mis_fusions": 3, "name": "Abbott", "accepting": True})
    with CaptureQueriesContext(connection) as queries:
        narrowed = find_specialists(origin=origin, radius_miles=100, queryset=Specialist.objects.filter(pk__gt=0))
    assert any("MATERIALIZED" in query["sql"] for query in queries.captured_queries)
    assert narrowed.count == find_specialists(origin=origin, radius_miles=100).count == len(ZIPS) - 1  # not Urbana
