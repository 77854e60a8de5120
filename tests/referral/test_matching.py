"""find_specialists / match_specialist on a real database, and the search index that keeps them fast."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from directory.models import Procedure, Service, Specialist, Specialty, VolumeSource, ZipCode
from directory.volumes import add_months
from referral import ranking
from referral.matching import find_specialists, match_specialist, profile_queryset
from referral.models import SearchEntry
from referral.ranking import Situation
from referral.search_index import refresh_search_entries
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory, TrainingFactory

pytestmark = pytest.mark.django_db

# ZIP centroids (from the offline ZIP table) at known distances from Chicago 60611.
PLACES = {
    "60611": ("Chicago", "IL"),  # the origin
    "60614": ("Chicago", "IL"),  # ~3 miles
    "60540": ("Naperville", "IL"),  # ~29 miles
    "60115": ("Dekalb", "IL"),  # ~58 miles
    "61801": ("Urbana", "IL"),  # ~130 miles
    "53202": ("Milwaukee", "WI"),  # ~81 miles
    "10001": ("New York", "NY"),  # ~710 miles
    "96813": ("Honolulu", "HI"),  # ~4,250 miles
}


def practice_at(zip_code):
    city, state = PLACES[zip_code]
    return PracticeFactory(zip_code=zip_code, city=city, state=state)


def specialist_at(zip_code, **kwargs):
    return SpecialistFactory(practices=[practice_at(zip_code)], **kwargs)


def last_year():
    year = timezone.localdate().year - 1
    return datetime.date(year, 1, 1), datetime.date(year, 12, 31)


def add_volume(specialist, count, procedure=Procedure.MIS_SI_FUSION, period=None, **kwargs):
    start, end = period or last_year()
    return ProcedureVolumeFactory(
        specialist=specialist, procedure=procedure, period_start=start, period_end=end, count=count, **kwargs
    )


@pytest.fixture
def chicago():
    return ZipCode.objects.get(code="60611")


def ids(matches):
    return [m.specialist.pk for m in matches]


def test_unpublished_specialists_never_appear(chicago):
    shown = specialist_at("60614")
    hidden = specialist_at("60611", is_published=False, offers_mis_si_fusion=True)
    result = find_specialists(origin=chicago, radius_miles=50)
    assert ids(result.matches) == [shown.pk]
    assert hidden.pk not in ids(result.beyond_radius)


def test_nothing_beyond_the_radius_appears_in_the_main_list(chicago):
    near = [specialist_at("60614"), specialist_at("60540"), specialist_at("60540")]
    far = specialist_at("60115")
    result = find_specialists(origin=chicago, radius_miles=40)
    assert set(ids(result.matches)) == {s.pk for s in near}
    assert far.pk not in ids(result.matches)
    assert all(m.distance_miles <= 40 for m in result.matches)
    assert result.count == 3
    assert result.beyond_radius == []


def test_distance_is_to_the_nearest_practice(chicago):
    specialist = SpecialistFactory(practices=[practice_at("10001"), practice_at("60540"), practice_at("60614")])
    match = find_specialists(origin=chicago, radius_miles=50).matches[0]
    assert match.practice.zip_code == "60614"
    assert 1 < match.distance_miles < 6
    assert match.specialist == specialist


def test_fewer_than_three_within_the_radius_shows_the_nearest_beyond_it(chicago):
    inside = specialist_at("60614")
    milwaukee, dekalb, urbana = specialist_at("53202"), specialist_at("60115"), specialist_at("61801")
    result = find_specialists(origin=chicago, radius_miles=10)
    assert ids(result.matches) == [inside.pk]
    assert ids(result.beyond_radius) == [dekalb.pk, milwaukee.pk, urbana.pk]
    distances = [m.distance_miles for m in result.beyond_radius]
    assert distances == sorted(distances) and distances[0] > 10


def test_beyond_radius_keeps_at_most_five(chicago):
    for _ in range(7):
        specialist_at("61801")
    result = find_specialists(origin=chicago, radius_miles=10)
    assert result.count == 0
    assert len(result.beyond_radius) == 5


def test_never_a_dead_end_even_thousands_of_miles_away(chicago):
    hawaii = specialist_at("96813")
    result = find_specialists(origin=chicago, radius_miles=10)
    assert result.matches == []
    assert ids(result.beyond_radius) == [hawaii.pk]
    assert result.beyond_radius[0].distance_miles > 4000


def test_best_first_and_nearest_first(chicago):
    strong = specialist_at(
        "60540", offers_mis_si_fusion=True, offers_diagnostic_si_injection=True, offers_conservative_care=True
    )
    add_volume(strong, 30)
    weak = specialist_at("60614")
    best = find_specialists(origin=chicago, radius_miles=50)
    nearest = find_specialists(origin=chicago, radius_miles=50, sort="distance")
    assert ids(best.matches) == [strong.pk, weak.pk]
    assert ids(nearest.matches) == [weak.pk, strong.pk]
    assert best.matches[0].score > best.matches[1].score


def test_pages(chicago):
    everyone = [specialist_at("60614") for _ in range(5)]
    first = find_specialists(origin=chicago, radius_miles=50, page=1, page_size=2)
    last = find_specialists(origin=chicago, radius_miles=50, page=3, page_size=2)
    beyond_the_end = find_specialists(origin=chicago, radius_miles=50, page=9, page_size=2)
    assert (first.count, len(first.matches), first.has_next) == (5, 2, True)
    assert (len(last.matches), last.has_next) == (1, False)
    assert beyond_the_end.matches == [] and beyond_the_end.count == 5
    whole = find_specialists(origin=chicago, radius_miles=50, page_size=10)
    assert ids(whole.matches) == ids(first.matches) + ids(
        find_specialists(origin=chicago, radius_miles=50, page=2, page_size=2).matches
    ) + ids(last.matches)
    assert set(ids(whole.matches)) == {s.pk for s in everyone}


def test_ties_break_by_name_then_id(chicago):
    b = specialist_at("60614", last_name="Baker", first_name="Ann")
    a2 = specialist_at("60614", last_name="Abbott", first_name="Zoe")
    a1 = specialist_at("60614", last_name="abbott", first_name="Amy")
    assert ids(find_specialists(origin=chicago, radius_miles=50).matches) == [a1.pk, a2.pk, b.pk]


def test_the_filtersets_queryset_is_honoured_and_restricted_to_published(chicago):
    surgeon = specialist_at("60614", specialty=Specialty.NEUROSURGERY)
    specialist_at("60614", specialty=Specialty.PAIN_MEDICINE)
    specialist_at("60614", specialty=Specialty.NEUROSURGERY, is_published=False)
    result = find_specialists(
        origin=chicago, radius_miles=50, queryset=Specialist.objects.filter(specialty=Specialty.NEUROSURGERY)
    )
    assert ids(result.matches) == [surgeon.pk]


def test_minimum_past_year_fusions(chicago):
    busy, quiet, stale, suppressed = (specialist_at("60614") for _ in range(4))
    add_volume(busy, 12)
    add_volume(quiet, 3)
    add_volume(stale, 90, period=(datetime.date(2019, 1, 1), datetime.date(2019, 12, 31)))
    add_volume(suppressed, None, is_suppressed=True, source=VolumeSource.CMS_MEDICARE)
    result = find_specialists(origin=chicago, radius_miles=50, min_mis_fusions=10)
    assert ids(result.matches) == [busy.pk]


def test_situation_changes_the_order(chicago):
    post_fusion = specialist_at("60540", treats_post_lumbar_fusion=True, evaluates_si_in_lumbar_workup=True)
    nearby = specialist_at("60614", offers_conservative_care=True)
    plain = find_specialists(origin=chicago, radius_miles=50)
    after_fusion = find_specialists(origin=chicago, radius_miles=50, situation=Situation(prior_lumbar_fusion=True))
    assert ids(plain.matches) == [nearby.pk, post_fusion.pk]
    assert ids(after_fusion.matches) == [post_fusion.pk, nearby.pk]


def test_match_explains_with_reasons_and_facts(chicago):
    specialist = specialist_at("60614", offers_mis_si_fusion=True)
    add_volume(specialist, 34, verified=True)
    TrainingFactory(specialist=specialist)
    match = find_specialists(origin=chicago, radius_miles=50).matches[0]
    start, end = last_year()
    assert match.reasons[0] == f"34 minimally invasive SI-joint fusions in Jan–Dec {end.year} (self-reported, verified)"
    assert f"34 minimally invasive SI-joint fusions, Jan–Dec {end.year}, self-reported, verified" in match.facts
    assert any("miles away" in reason for reason in match.reasons)


def test_match_specialist_agrees_with_the_search(chicago):
    for zip_code, services in [("60614", {}), ("60540", {"offers_mis_si_fusion": True}), ("53202", {})]:
        specialist = specialist_at(zip_code, verified_at=timezone.now(), **services)
        add_volume(specialist, 7, Procedure.SI_INJECTION)
    situation = Situation(diagnostic_injection="not_done")
    result = find_specialists(origin=chicago, radius_miles=100, situation=situation)
    for found in result.matches:
        alone = match_specialist(
            specialist=profile_queryset().get(pk=found.specialist.pk), origin=chicago, situation=situation
        )
        assert (alone.score, alone.distance_miles, alone.reasons, alone.practice) == (
            found.score,
            found.distance_miles,
            found.reasons,
            found.practice,
        )


def test_match_specialist_without_located_practice(chicago):
    specialist = SpecialistFactory(practices=[])
    match = match_specialist(specialist=specialist, origin=chicago)
    assert match.practice is None
    assert match.distance_miles == float("inf")


@pytest.mark.parametrize("results", [3, 25])
def test_query_count_does_not_grow_with_results(chicago, django_assert_num_queries, results):
    for _ in range(results):
        specialist = specialist_at("60614")
        add_volume(specialist, 5)
        TrainingFactory(specialist=specialist)
    # The index's stamp (1), the index into this process's memory as it was written since (1), the page's index
    # rows with specialists and practices (1), their insurance (1); then, the copy current, one query fewer.
    for queries in (4, 3):
        with django_assert_num_queries(queries):
            result = find_specialists(origin=chicago, radius_miles=50)
            [(m.practice.name, m.specialist.full_name, m.reasons, m.facts) for m in result.matches]
        assert len(result.matches) == min(results, 20)


def test_page_reads_reasons_and_facts_from_the_index_as_computed_afresh(chicago):
    specialist = specialist_at("60540", offers_mis_si_fusion=True, offers_conservative_care=True)
    add_volume(specialist, 34, verified=True)
    add_volume(specialist, 12, procedure=Procedure.SI_INJECTION)
    TrainingFactory(specialist=specialist)
    situation = Situation(prior_lumbar_fusion=True)
    found = find_specialists(origin=chicago, radius_miles=50, situation=situation).matches[0]
    alone = match_specialist(specialist=profile_queryset().get(pk=specialist.pk), origin=chicago, situation=situation)
    assert (found.reasons, found.facts, found.score) == (alone.reasons, alone.facts, alone.score)
    assert found.facts and any("miles away" in reason for reason in found.reasons)


# --- The search index stays in step with the directory -----------------------------------------------


def test_index_follows_saves_publishing_moves_and_counts(chicago):
    specialist = specialist_at("60614", is_published=False)
    assert find_specialists(origin=chicago, radius_miles=50).count == 0

    specialist.is_published = True
    specialist.save()
    assert ids(find_specialists(origin=chicago, radius_miles=50).matches) == [specialist.pk]

    before = find_specialists(origin=chicago, radius_miles=50).matches[0].score
    add_volume(specialist, 40)
    assert find_specialists(origin=chicago, radius_miles=50).matches[0].score > before

    practice = specialist.practices.get()
    practice.zip_code, practice.city, practice.state = "10001", "New York", "NY"
    practice.save()
    assert find_specialists(origin=chicago, radius_miles=50).count == 0

    specialist.is_published = False
    specialist.save()
    assert not SearchEntry.objects.filter(specialist=specialist).exists()


def test_bulk_changes_show_after_refresh(chicago):
    specialist = specialist_at("60614", is_published=False)
    Specialist.objects.filter(pk=specialist.pk).update(is_published=True)  # bypasses signals
    assert find_specialists(origin=chicago, radius_miles=50).count == 0
    assert refresh_search_entries([specialist.pk]) == 1
    assert find_specialists(origin=chicago, radius_miles=50).count == 1


def test_a_stale_index_row_never_shows_an_unpublished_profile(chicago, caplog):
    shown = specialist_at("60614")
    hidden = specialist_at("60614")
    Specialist.objects.filter(pk=hidden.pk).update(is_published=False)  # bypasses the announcements: row is stale
    assert ids(find_specialists(origin=chicago, radius_miles=50).matches) == [shown.pk]
    assert f"[{hidden.pk}]" in caplog.text and "refresh_search_index" in caplog.text
    refresh_search_entries([hidden.pk])
    assert find_specialists(origin=chicago, radius_miles=50).count == 1


def test_filters_read_the_directory_itself(chicago):
    specialist = specialist_at("60614", specialty=Specialty.ORTHOPAEDIC_SPINE)
    Specialist.objects.filter(pk=specialist.pk).update(is_published=False)  # stale row, as above
    queryset = Specialist.objects.filter(specialty=Specialty.ORTHOPAEDIC_SPINE)
    assert find_specialists(origin=chicago, radius_miles=50, queryset=queryset).count == 0


def test_refresh_command_rebuilds_everything(chicago):
    specialist_at("60614")
    specialist_at("60540", is_published=False)
    SearchEntry.objects.all().delete()
    out = StringIO()
    call_command("refresh_search_index", stdout=out, verbosity=0)
    assert "1 entries written" in out.getvalue()
    assert find_specialists(origin=chicago, radius_miles=50).count == 1


def test_aged_index_rows_are_recomputed_on_the_fly(chicago):
    specialist = specialist_at("60614", offers_mis_si_fusion=True)
    add_volume(specialist, 30)
    expected = match_specialist(specialist=profile_queryset().get(pk=specialist.pk), origin=chicago)
    # Pretend the row was computed long ago with other facts and has since aged.
    SearchEntry.objects.filter(specialist=specialist).update(
        surgical_experience=0,
        mis_fusion=0,
        explanation={"reasons": {}, "facts": ["an old fact"]},
        valid_until=timezone.localdate() - datetime.timedelta(days=1),
    )
    found = find_specialists(origin=chicago, radius_miles=50).matches[0]
    assert (found.score, found.reasons, found.facts) == (expected.score, expected.reasons, expected.facts)
    call_command("refresh_search_index", "--expired", stdout=StringIO(), verbosity=0)
    assert SearchEntry.objects.get(specialist=specialist).valid_until > timezone.localdate()


def test_index_row_expires_when_a_count_leaves_the_past_year_window(settings):
    today = timezone.localdate()
    specialist = specialist_at("60614")
    add_volume(specialist, 10, period=last_year())
    entry = SearchEntry.objects.get(specialist=specialist)
    assert today < entry.valid_until <= add_months(last_year()[1], settings.SIJ_VOLUME_WINDOW_MONTHS)


def test_services_filter_through_the_queryset(chicago):
    injector = specialist_at("60614", offers_diagnostic_si_injection=True)
    specialist_at("60614")
    queryset = Specialist.objects.offering(Service.DIAGNOSTIC_SI_INJECTION)
    assert ids(find_specialists(origin=chicago, radius_miles=50, queryset=queryset).matches) == [injector.pk]


# --- The ranking's properties, through find_specialists on the database ---------------------------------

NEAR_TO_FAR = ["60611", "60614", "60540", "60115", "53202", "61801"]  # from Chicago 60611


@st.composite
def profiles(draw):
    """Two to four specialists as plain facts: where, what they offer, trainings, a past-year MIS count."""
    return [
        {
            "zip": draw(st.sampled_from(NEAR_TO_FAR)),
            "services": draw(st.sets(st.sampled_from(Service.values), max_size=4)),
            "trainings": draw(st.integers(0, 2)),
            "mis_fusions": draw(st.one_of(st.none(), st.integers(1, 60))),
            "name": (draw(st.sampled_from(["Abbott", "Baker"])), draw(st.sampled_from(["Ann", "Bo"]))),
            "accepting": draw(st.booleans()),
        }
        for _ in range(draw(st.integers(2, 4)))
    ]


def improved(profile, kind, data):
    """Return `profile` made better on one criterion, all else equal."""
    better = {**profile, "services": set(profile["services"])}
    if kind == "experience":
        better["mis_fusions"] = (profile["mis_fusions"] or 0) + data.draw(st.integers(1, 30))
    elif kind == "training":
        better["trainings"] += 1
    elif kind == "availability":
        better["accepting"] = True
    elif kind == "service":
        better["services"].add(data.draw(st.sampled_from(Service.values)))
    else:
        better["zip"] = data.draw(st.sampled_from(NEAR_TO_FAR[: NEAR_TO_FAR.index(profile["zip"]) + 1]))
    return better


def create(profile, pk):
    specialist = SpecialistFactory(
        pk=pk,
        last_name=profile["name"][0],
        first_name=profile["name"][1],
        practices=[practice_at(profile["zip"])],
        accepting_new_patients=profile["accepting"],
        **{service: True for service in profile["services"]},
    )
    for index in range(profile["trainings"]):
        TrainingFactory(specialist=specialist, course=f"SI-joint course {index}")
    if profile["mis_fusions"] is not None:
        add_volume(specialist, profile["mis_fusions"])


def ranked_ids(field, situation, sort):
    """Create the field (ids 1001, 1002, …), search from Chicago, and undo the writes."""
    with transaction.atomic():
        for index, profile in enumerate(field):
            create(profile, 1001 + index)
        result = find_specialists(
            origin=ZipCode.objects.get(code="60611"), radius_miles=200, situation=situation, sort=sort
        )
        transaction.set_rollback(True)
    return ids(result.matches)


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    field=profiles(),
    situation=st.sampled_from([Situation(), Situation(diagnostic_injection="relieved", conservative_months=8)]),
    sort=st.sampled_from(ranking.SORTS),
    kind=st.sampled_from(["experience", "training", "service", "distance", "availability"]),
)
def test_improving_one_criterion_never_lowers_a_rank_in_a_real_search(data, field, situation, sort, kind):
    index = data.draw(st.integers(0, len(field) - 1))
    before = ranked_ids(field, situation, sort)
    after = ranked_ids([*field[:index], improved(field[index], kind, data), *field[index + 1 :]], situation, sort)
    assert sorted(before) == sorted(after) == [1001 + i for i in range(len(field))]
    assert after.index(1001 + index) <= before.index(1001 + index)


def test_equal_results_come_in_distance_then_name_then_id_order_whatever_the_insertion_order(chicago):
    same = {"offers_mis_si_fusion": True}
    made = [
        specialist_at("60540", pk=2001, last_name="abbott", first_name="Amy", **same),  # the farthest
        specialist_at("60611", pk=2002, last_name="Baker", first_name="Ann", **same),
        specialist_at("60611", pk=2003, last_name="Abbott", first_name="Zoe", **same),
        specialist_at("60611", pk=2005, last_name="Abbott", first_name="amy", **same),
        specialist_at("60611", pk=2004, last_name="ABBOTT", first_name="Amy", **same),
    ]
    assert len({m.pk for m in made}) == 5
    for sort in ranking.SORTS:
        result = find_specialists(origin=chicago, radius_miles=50, sort=sort)
        assert ids(result.matches) == [2004, 2005, 2003, 2002, 2001]


@pytest.mark.parametrize("sort", ranking.SORTS)
def test_a_specialist_not_accepting_new_patients_ranks_below_a_comparable_one_who_is(chicago, sort):
    same = {"offers_mis_si_fusion": True, "offers_diagnostic_si_injection": True}
    closed = specialist_at("60611", pk=3001, last_name="Abbott", accepting_new_patients=False, **same)
    specialist_at("60611", pk=3002, last_name="Zeta", accepting_new_patients=True, **same)  # loses the name tie
    result = find_specialists(origin=chicago, radius_miles=50, sort=sort)
    assert ids(result.matches) == [3002, 3001]
    shown = next(m for m in result.matches if m.specialist.pk == closed.pk)
    assert shown.reasons[0] == "Not accepting new patients: ranked below comparable specialists who are"
    assert match_specialist(specialist=closed, origin=chicago).reasons == shown.reasons
