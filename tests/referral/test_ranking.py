"""The ranking: criteria, weights, situation, ordering and its properties (pure: no database).

The order comes from ranking.in_result_order, the function that orders real search results, and the scores
from the index's formula (static parts summed, then distance), as referral.matching computes them.
"""

import dataclasses
import datetime
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.models import PROCEDURE_CODES, Procedure, Service, VolumeSource
from referral import ranking
from referral.ranking import Candidate, Situation, Volume

TODAY = datetime.date(2026, 3, 15)
YEAR_2025 = (datetime.date(2025, 1, 1), datetime.date(2025, 12, 31))


def volume(procedure=Procedure.MIS_SI_FUSION, count=34, period=YEAR_2025, source=VolumeSource.SELF_REPORTED, **kw):
    return Volume(procedure, count, period[0], period[1], source, kw.pop("verified", True), **kw)


def candidate(
    id=1, distance=5.0, services=(), volumes=(), trainings=0, verified_at=None, name=("Doe", "Jan"), accepting=True
):
    return Candidate(
        id=id,
        last_name=name[0],
        first_name=name[1],
        distance_miles=distance,
        services=frozenset(services),
        volumes=tuple(volumes),
        training_count=trainings,
        latest_training="MIS SI-joint fusion course, 2024" if trainings else "",
        verified_at=verified_at,
        accepting_new_patients=accepting,
    )


def assess(c, situation=None):
    return ranking.assess(c, ranking.weights_for(situation), today=TODAY)


def rank(field, situation=None, *, sort="best"):
    """Return the assessments of `field` in result order, scored and ordered as a search scores and orders them."""
    weights = ranking.weights_for(situation)
    total = ranking.scorer(weights)
    scored = []
    for c in field:
        static = ranking.static_sum(ranking.static_parts(c, TODAY), weights)
        score = total(static, ranking.distance_part(c.distance_miles))
        assessment = ranking.assess(c, weights, today=TODAY)
        assert assessment.score == score  # the index's formula and assess() agree to the last bit
        scored.append((score, c.distance_miles, c.last_name.casefold(), c.first_name.casefold(), c.id, assessment))
    return [row.carry for row in ranking.in_result_order(scored, sort=sort)]


def part(c, criterion, situation=None):
    return next(p for p in assess(c, situation).parts if p.criterion == criterion)


# --- Criteria ---------------------------------------------------------------------------------------


def test_past_year_fusions_are_quoted_with_period_and_source():
    reason = part(candidate(volumes=[volume()]), ranking.SURGICAL_EXPERIENCE).reason
    assert reason == "34 minimally invasive SI-joint fusions in Jan–Dec 2025 (self-reported, verified)"


def test_suppressed_count_reads_not_published_never_zero():
    suppressed = volume(count=None, is_suppressed=True, source=VolumeSource.CMS_MEDICARE, verified=False)
    result = part(candidate(volumes=[suppressed]), ranking.SURGICAL_EXPERIENCE)
    assert "not published by CMS Medicare (fewer than 11 patients)" in result.reason
    assert " 0 " not in result.reason
    assert result.score > 0  # the source only withholds counts of 1 to 10


def test_stale_count_is_too_old_to_count():
    stale = volume(count=80, period=(datetime.date(2022, 1, 1), datetime.date(2022, 12, 31)))
    result = part(candidate(volumes=[stale]), ranking.SURGICAL_EXPERIENCE)
    assert result.score == 0
    assert result.reason == "Minimally invasive SI-joint fusions: last count is from 2022, too old to count"


def test_open_and_minimally_invasive_fusions_both_count():
    mis_only = part(candidate(volumes=[volume(count=10)]), ranking.SURGICAL_EXPERIENCE)
    both = part(
        candidate(volumes=[volume(count=10), volume(Procedure.OPEN_SI_FUSION, count=5)]),
        ranking.SURGICAL_EXPERIENCE,
    )
    assert both.score > mis_only.score
    assert "5 open SI-joint fusions in Jan–Dec 2025" in both.reason


def test_newer_cpt_27278_counts_as_minimally_invasive_fusion():
    assert "27278" in PROCEDURE_CODES[Procedure.MIS_SI_FUSION]
    assert "27279" in PROCEDURE_CODES[Procedure.MIS_SI_FUSION]


@pytest.mark.parametrize(("k", "low", "high"), [(ranking.SURGICAL_K, 10, 20), (ranking.NONSURGICAL_K, 25, 50)])
def test_counts_have_diminishing_returns(k, low, high):
    first = ranking.saturating(low, k) - ranking.saturating(0, k)
    second = ranking.saturating(high, k) - ranking.saturating(low, k)
    assert 0 < second < first
    assert ranking.saturating(10_000, k) <= 1


@pytest.mark.parametrize(
    ("services", "criterion", "score"),
    [
        ({Service.MIS_SI_FUSION}, ranking.MIS_FUSION, 1.0),
        ({Service.OPEN_SI_FUSION}, ranking.MIS_FUSION, 0.3),
        (set(), ranking.MIS_FUSION, 0.0),
        ({Service.DIAGNOSTIC_SI_INJECTION}, ranking.DIAGNOSTIC_INJECTION, 1.0),
        (set(), ranking.DIAGNOSTIC_INJECTION, 0.0),
        ({Service.CONSERVATIVE_CARE}, ranking.CONSERVATIVE_CARE, 0.6),
        (
            {Service.CONSERVATIVE_CARE, Service.THERAPEUTIC_SI_INJECTION, Service.RF_ABLATION},
            ranking.CONSERVATIVE_CARE,
            1.0,
        ),
        ({Service.EVALUATES_SI_IN_LUMBAR_WORKUP}, ranking.LUMBAR_FUSION, 0.5),
        ({Service.EVALUATES_SI_IN_LUMBAR_WORKUP, Service.TREATS_POST_LUMBAR_FUSION}, ranking.LUMBAR_FUSION, 1.0),
        ({Service.THERAPEUTIC_SI_INJECTION, Service.RF_ABLATION}, ranking.NONSURGICAL_EXPERIENCE, 0.3),
    ],
)
def test_service_part_scores(services, criterion, score):
    assert part(candidate(services=services), criterion).score == pytest.approx(score)


@pytest.mark.parametrize(
    ("criterion", "services", "expected"),
    [
        (ranking.MIS_FUSION, {Service.MIS_SI_FUSION}, "Offers minimally invasive SI-joint fusion"),
        (ranking.DIAGNOSTIC_INJECTION, {Service.DIAGNOSTIC_SI_INJECTION}, "image-guided diagnostic SI-joint injection"),
        (ranking.CONSERVATIVE_CARE, {Service.CONSERVATIVE_CARE}, "Non-surgical care first"),
        (ranking.LUMBAR_FUSION, {Service.TREATS_POST_LUMBAR_FUSION}, "Treats pain after lumbar fusion"),
    ],
)
def test_service_reasons_are_plain_language(criterion, services, expected):
    assert expected in part(candidate(services=services), criterion).reason


def test_injection_experience_counts_past_year_injections_and_ablations():
    volumes = [volume(Procedure.SI_INJECTION, count=40), volume(Procedure.RF_ABLATION, count=12, verified=False)]
    result = part(candidate(volumes=volumes), ranking.NONSURGICAL_EXPERIENCE)
    assert result.score == pytest.approx(0.7 * ranking.saturating(52, ranking.NONSURGICAL_K))
    assert "40 SI-joint injections in Jan–Dec 2025 (self-reported, verified)" in result.reason
    assert "12 SI-joint RF ablations / nerve blocks in Jan–Dec 2025 (self-reported, not verified)" in result.reason


@pytest.mark.parametrize(("trainings", "score"), [(0, 0.0), (1, 0.5), (2, 0.75), (3, 0.875)])
def test_training_part_score(trainings, score):
    result = part(candidate(trainings=trainings), ranking.TRAINING)
    assert result.score == pytest.approx(score)
    if trainings:
        assert result.reason.startswith(f"{trainings} recorded SI-joint training")


@pytest.mark.parametrize(
    ("verified_at", "score", "reason"),
    [
        (None, 0.0, "Profile not verified by our curators yet"),
        (datetime.date(2026, 1, 10), 1.0, "Profile verified Jan 2026"),
        (datetime.date(2024, 2, 1), 0.5, "Profile verified Feb 2024 (more than a year ago)"),
        (datetime.date(2020, 2, 1), 0.0, "Profile last verified Feb 2020, more than three years ago"),
    ],
)
def test_recently_verified_profile_counts_a_little_more(verified_at, score, reason):
    result = part(candidate(verified_at=verified_at), ranking.VERIFIED)
    assert (result.score, result.reason) == (score, reason)


@pytest.mark.parametrize(("miles", "score"), [(0, 1.0), (30, 0.5), (60, 0.25)])
def test_distance_decays_gently(miles, score):
    assert ranking.distance_part(miles) == pytest.approx(score)


def test_20_mile_drive_to_experienced_specialist_beats_2_mile_visit_without_si_experience():
    experienced = candidate(
        id=1,
        distance=20,
        services={Service.MIS_SI_FUSION, Service.DIAGNOSTIC_SI_INJECTION, Service.CONSERVATIVE_CARE},
        volumes=[volume(count=25), volume(Procedure.SI_INJECTION, count=60)],
        trainings=1,
    )
    nearby_without_si_experience = candidate(id=2, distance=2)
    for situation in (None, Situation(diagnostic_injection="not_done"), Situation(conservative_months=2)):
        ranked = rank([nearby_without_si_experience, experienced], situation)
        assert [a.candidate.id for a in ranked] == [1, 2]


# --- Weights and the situation ----------------------------------------------------------------------


def test_default_weights_apply_without_a_situation():
    assert ranking.weights_for(None) == ranking.weights_for(Situation()) == ranking.DEFAULT_WEIGHTS


@pytest.mark.parametrize(
    ("situation", "changed"),
    [
        (
            Situation(diagnostic_injection="not_done"),
            {ranking.DIAGNOSTIC_INJECTION: 2.0, ranking.NONSURGICAL_EXPERIENCE: 1.5},
        ),
        (
            Situation(diagnostic_injection="relieved", conservative_months=6),
            {ranking.SURGICAL_EXPERIENCE: 2.0, ranking.TRAINING: 1.5, ranking.MIS_FUSION: 2.0},
        ),
        (Situation(diagnostic_injection="relieved", conservative_months=5), {ranking.CONSERVATIVE_CARE: 2.0}),
        (Situation(conservative_months=0), {ranking.CONSERVATIVE_CARE: 2.0}),
        (Situation(prior_lumbar_fusion=True), {ranking.LUMBAR_FUSION: 2.5}),
        (Situation(prior_lumbar_fusion=False), {}),
        (Situation(diagnostic_injection="not_relieved", conservative_months=12), {}),
        (
            Situation(prior_lumbar_fusion=True, diagnostic_injection="not_done", conservative_months=3),
            {
                ranking.LUMBAR_FUSION: 2.5,
                ranking.DIAGNOSTIC_INJECTION: 2.0,
                ranking.NONSURGICAL_EXPERIENCE: 1.5,
                ranking.CONSERVATIVE_CARE: 2.0,
            },
        ),
    ],
)
def test_situation_changes_the_weights(situation, changed):
    weights = ranking.weights_for(situation)
    for criterion, default in ranking.DEFAULT_WEIGHTS.items():
        assert weights[criterion] == pytest.approx(default * changed.get(criterion, 1.0)), criterion


def test_settings_override_default_weights(settings):
    settings.SIJ_RANKING_WEIGHTS = {ranking.DISTANCE: 0, ranking.VERIFIED: 40}
    weights = ranking.weights_for(None)
    assert weights[ranking.DISTANCE] == 0
    assert weights[ranking.VERIFIED] == 40
    assert weights[ranking.TRAINING] == ranking.DEFAULT_WEIGHTS[ranking.TRAINING]


@pytest.mark.parametrize("overrides", [{"bedside_manner": 3}, {ranking.DISTANCE: -1}])
def test_bad_weight_settings_are_refused(settings, overrides):
    settings.SIJ_RANKING_WEIGHTS = overrides
    with pytest.raises(ValueError):
        ranking.weights_for(None)


def test_prior_lumbar_fusion_lifts_a_specialist_who_treats_pain_after_fusion():
    treats = candidate(
        id=1, distance=15, services={Service.TREATS_POST_LUMBAR_FUSION, Service.EVALUATES_SI_IN_LUMBAR_WORKUP}
    )
    nearer = candidate(id=2, distance=1, services={Service.CONSERVATIVE_CARE})
    assert assess(treats).score < assess(nearer).score
    assert (
        assess(treats, Situation(prior_lumbar_fusion=True)).score
        > assess(nearer, Situation(prior_lumbar_fusion=True)).score
    )


# --- Total, reasons and ordering --------------------------------------------------------------------


def test_total_is_weighted_sum_on_a_0_to_100_scale():
    nothing = candidate(distance=10_000, accepting=False)
    everything = candidate(
        distance=0,
        services=set(Service.values),
        volumes=[volume(count=10_000), volume(Procedure.SI_INJECTION, count=10_000)],
        trainings=60,
        verified_at=TODAY,
    )
    assert assess(nothing).score == 0.0
    assert assess(everything).score == 100.0
    one = assess(candidate(distance=10_000, services={Service.DIAGNOSTIC_SI_INJECTION}, accepting=False))
    weights = ranking.DEFAULT_WEIGHTS
    assert one.score == round(100 * weights[ranking.DIAGNOSTIC_INJECTION] / sum(weights.values()), 1)


def test_reasons_are_sorted_by_contribution():
    result = assess(candidate(distance=40, services={Service.DIAGNOSTIC_SI_INJECTION}, volumes=[volume(count=3)]))
    contributions = {p.reason: p.contribution for p in result.parts}
    assert [contributions[r] for r in result.reasons] == sorted(contributions.values(), reverse=True)
    assert result.reasons[:2] == [
        "Accepting new patients",
        "Confirms the diagnosis with an image-guided diagnostic SI-joint injection",
    ]


def test_ties_break_by_distance_then_name_then_id():
    same = {"services": {Service.MIS_SI_FUSION}}
    candidates = [
        candidate(id=4, distance=5, name=("Baker", "Ann"), **same),
        candidate(id=3, distance=5, name=("Abbott", "Zoe"), **same),
        candidate(id=2, distance=5, name=("Abbott", "Amy"), **same),
        candidate(id=1, distance=5, name=("Abbott", "Amy"), **same),
    ]
    assert [a.candidate.id for a in rank(candidates)] == [1, 2, 3, 4]
    assert [a.candidate.id for a in rank(candidates, sort="distance")] == [1, 2, 3, 4]


def test_sort_by_distance_puts_the_nearest_first_whatever_the_score():
    strong_far = candidate(id=1, distance=40, services=set(Service.values))
    weak_near = candidate(id=2, distance=3)
    assert [a.candidate.id for a in rank([strong_far, weak_near])] == [1, 2]
    assert [a.candidate.id for a in rank([strong_far, weak_near], sort="distance")] == [2, 1]


def test_key_facts_quote_count_period_source_and_verification():
    c = dataclasses.replace(candidate(volumes=[volume()]), verified_at=datetime.date(2026, 3, 2))
    assert ranking.key_facts(c, today=TODAY)[0] == (
        "34 minimally invasive SI-joint fusions, Jan–Dec 2025, self-reported, verified Mar 2026"
    )


# --- The situation ----------------------------------------------------------------------------------


@given(
    st.builds(
        Situation,
        prior_lumbar_fusion=st.one_of(st.none(), st.booleans()),
        conservative_months=st.one_of(st.none(), st.integers(0, 120)),
        diagnostic_injection=st.sampled_from([None, "not_done", "relieved", "not_relieved"]),
    )
)
def test_situation_round_trips_through_json_safe_dict(situation):
    import json

    assert Situation.from_dict(json.loads(json.dumps(situation.to_dict()))) == situation


def test_situation_describes_itself_in_plain_language():
    situation = Situation(prior_lumbar_fusion=True, conservative_months=8, diagnostic_injection="relieved")
    assert situation.describe() == [
        "Prior lumbar fusion",
        "8 months of non-surgical care",
        "Diagnostic SI-joint injection: done, and it relieved the pain",
    ]
    assert Situation().describe() == []
    assert Situation(conservative_months=1).describe() == ["1 month of non-surgical care"]


@pytest.mark.parametrize("bad", [{"diagnostic_injection": "maybe"}, {"conservative_months": 121}])
def test_situation_refuses_values_outside_its_choices(bad):
    with pytest.raises(ValueError):
        Situation(**bad)


# --- Properties -------------------------------------------------------------------------------------

COUNTED = list(ranking.COUNTED_PROCEDURES)
SITUATIONS = st.builds(
    Situation,
    prior_lumbar_fusion=st.one_of(st.none(), st.booleans()),
    conservative_months=st.one_of(st.none(), st.integers(0, 120)),
    diagnostic_injection=st.sampled_from([None, "not_done", "relieved", "not_relieved"]),
)


@st.composite
def candidates(draw, id):
    procedures = draw(st.lists(st.sampled_from(COUNTED), unique=True, max_size=4))
    volumes = []
    for procedure in procedures:
        suppressed = draw(st.booleans()) and draw(st.booleans())
        volumes.append(
            volume(
                procedure,
                count=None if suppressed else draw(st.integers(0, 200)),
                is_suppressed=suppressed,
                source=VolumeSource.CMS_MEDICARE if suppressed else VolumeSource.SELF_REPORTED,
                verified=draw(st.booleans()),
            )
        )
    return candidate(
        id=id,
        distance=draw(st.integers(0, 1000).map(lambda tenths: tenths / 10)),
        services=draw(st.sets(st.sampled_from(Service.values))),
        volumes=volumes,
        trainings=draw(st.integers(0, 4)),
        verified_at=draw(st.one_of(st.none(), st.dates(datetime.date(2019, 1, 1), TODAY))),
        accepting=draw(st.booleans()),
        name=(draw(st.sampled_from(["Abbott", "Baker", "Chen"])), draw(st.sampled_from(["Ann", "Bo"]))),
    )


@st.composite
def fields(draw):
    n = draw(st.integers(2, 8))
    return [draw(candidates(id=i + 1)) for i in range(n)]


@st.composite
def improvement(draw, c):
    """Return `c` made better on one criterion, all else equal."""
    kind = draw(st.sampled_from(["experience", "training", "service", "distance", "availability"]))
    if kind == "availability":
        return dataclasses.replace(c, accepting_new_patients=True)
    if kind == "experience":
        counted = [v for v in c.volumes if v.count is not None]
        missing = [p for p in COUNTED if p not in {v.procedure for v in c.volumes}]
        if counted and (not missing or draw(st.booleans())):
            target = draw(st.sampled_from(counted))
            more = dataclasses.replace(target, count=target.count + draw(st.integers(1, 50)))
            return dataclasses.replace(c, volumes=tuple(more if v is target else v for v in c.volumes))
        if missing:
            added = volume(draw(st.sampled_from(missing)), count=draw(st.integers(1, 50)))
            return dataclasses.replace(c, volumes=(*c.volumes, added))
        return c
    if kind == "training":
        return dataclasses.replace(c, training_count=c.training_count + draw(st.integers(1, 3)))
    if kind == "service":
        return dataclasses.replace(c, services=c.services | {draw(st.sampled_from(Service.values))})
    closer = draw(st.integers(0, int(c.distance_miles * 10))) / 10
    return dataclasses.replace(c, distance_miles=closer)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), field=fields(), situation=SITUATIONS, sort=st.sampled_from(["best", "distance"]))
def test_improving_one_criterion_never_lowers_a_rank(data, field, situation, sort):
    index = data.draw(st.integers(0, len(field) - 1))
    better = data.draw(improvement(field[index]))
    before = [a.candidate.id for a in rank(field, situation, sort=sort)]
    improved = [*field[:index], better, *field[index + 1 :]]
    after = [a.candidate.id for a in rank(improved, situation, sort=sort)]
    target = field[index].id
    assert after.index(target) <= before.index(target)


@settings(max_examples=100, deadline=None)
@given(field=fields(), situation=SITUATIONS, sort=st.sampled_from(["best", "distance"]), seed=st.randoms())
def test_ordering_is_deterministic_whatever_the_input_order(field, situation, sort, seed):
    shuffled = list(field)
    seed.shuffle(shuffled)
    first = [a.candidate.id for a in rank(field, situation, sort=sort)]
    second = [a.candidate.id for a in rank(shuffled, situation, sort=sort)]
    assert first == second


@settings(max_examples=100, deadline=None)
@given(field=fields(), situation=SITUATIONS)
def test_equal_scores_break_ties_by_distance_then_name_then_id(field, situation):
    ranked = rank(field, situation)
    for a, b in zip(ranked, ranked[1:], strict=False):
        assert a.score >= b.score
        if a.score == b.score:
            ka = (a.candidate.distance_miles, a.candidate.last_name, a.candidate.first_name, a.candidate.id)
            kb = (b.candidate.distance_miles, b.candidate.last_name, b.candidate.first_name, b.candidate.id)
            assert ka < kb


@settings(max_examples=100, deadline=None)
@given(c=candidates(id=1), situation=SITUATIONS)
def test_every_part_score_is_between_0_and_1_and_the_total_between_0_and_100(c, situation):
    result = assess(c, situation)
    assert {p.criterion for p in result.parts} == set(ranking.CRITERIA)
    assert all(0 <= p.score <= 1 for p in result.parts)
    assert 0 <= result.score <= 100
    assert len(result.reasons) == len(ranking.CRITERIA)


# --- Availability: never ranked above a comparable specialist who is accepting new patients ---------------


def other_points(c, weights):
    """Σ weight·part over every criterion but availability: what "comparable" compares."""
    parts = {p.criterion: p.score for p in ranking.assess(c, weights, today=TODAY).parts}
    return sum(parts[criterion] * weights[criterion] for criterion in ranking.CRITERIA if criterion != "availability")


@settings(max_examples=150, deadline=None)
@given(field=fields(), situation=SITUATIONS, sort=st.sampled_from(["best", "distance"]))
def test_not_accepting_never_ranks_above_a_comparable_specialist_who_is(field, situation, sort):
    """Above an accepting one only with other criteria worth the availability weight more (less 0.1 of rounding)."""
    weights = ranking.weights_for(situation)
    slack = sum(weights.values()) / 1000  # totals are rounded to 0.1 of 100
    ranked = [a.candidate for a in rank(field, situation, sort=sort)]
    for i, above in enumerate(ranked):
        for below in ranked[i + 1 :]:
            if not above.accepting_new_patients and below.accepting_new_patients:
                if sort == "distance" and above.distance_miles < below.distance_miles:
                    continue  # nearer first is what was asked for
                gap = other_points(above, weights) - other_points(below, weights)
                assert gap >= weights[ranking.AVAILABILITY] - slack


@settings(max_examples=100, deadline=None)
@given(c=candidates(id=1), other=candidates(id=2), situation=SITUATIONS, sort=st.sampled_from(["best", "distance"]))
def test_of_two_alike_the_one_accepting_new_patients_comes_first(c, other, situation, sort):
    accepting = dataclasses.replace(c, id=2, last_name="Zeta", accepting_new_patients=True)  # loses every tie-break
    not_accepting = dataclasses.replace(c, accepting_new_patients=False)
    assert [a.candidate.id for a in rank([not_accepting, accepting], situation, sort=sort)] == [2, 1]


def test_not_accepting_new_patients_is_the_first_reason_and_says_what_it_does():
    result = assess(candidate(accepting=False, services=set(Service.values), volumes=[volume()]))
    assert result.reasons[0] == "Not accepting new patients: ranked below comparable specialists who are"
    assert part(candidate(), ranking.AVAILABILITY).reason == "Accepting new patients"


def test_availability_weight_cannot_be_switched_off(settings):
    settings.SIJ_RANKING_WEIGHTS = {ranking.AVAILABILITY: 0}
    with pytest.raises(ValueError, match="availability"):
        ranking.weights_for(None)


@pytest.mark.parametrize(
    ("miles", "exact", "reason"),
    [
        (0.0, False, "About 1 mile away"),  # from a ZIP centre: never "less than 0.1 miles"
        (12.4, False, "About 12 miles away"),
        (0.0, True, "Under a mile away"),
        (12.4, True, "12.4 miles away"),
    ],
)
def test_distance_reason_says_how_exact_the_distance_is(miles, exact, reason):
    assert ranking.distance_reason(miles, exact) == reason
    assert part(replace(candidate(distance=miles), exact_location=exact), ranking.DISTANCE).reason == reason
