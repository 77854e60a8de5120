"""Which specialist suits this patient best, and why: criteria, weights, reasons. Pure: no ORM, no HTTP.

Every criterion turns plain facts about one candidate into a part-score in [0, 1] and a plain-language
reason. The total is the weighted sum of the part-scores on a 0–100 scale; the patient's situation changes
the weights; in_result_order() is the one order of search results. The past-year rule and the words for a
count live in directory/volumes.py. docs/ranking.md explains each criterion, formula and weight.
"""

import datetime
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language, gettext, gettext_lazy, ngettext

from directory import geo
from directory.models import Procedure, Service
from directory.volumes import (
    describe_stale,
    describe_volume,
    kept_per_language,
    leaves_window_on,
    month_year,
    select_past_year_volume,
    volume_fact,
)

# --- The patient's situation ------------------------------------------------------------------------

INJECTION_NOT_DONE = "not_done"
INJECTION_RELIEVED = "relieved"
INJECTION_NOT_RELIEVED = "not_relieved"
DIAGNOSTIC_INJECTION_CHOICES = [
    (INJECTION_NOT_DONE, gettext_lazy("Not done yet")),
    (INJECTION_RELIEVED, gettext_lazy("Done, and it relieved the pain")),
    (INJECTION_NOT_RELIEVED, gettext_lazy("Done, and it did not relieve the pain")),
]
# Surgery is for pain that persists after about six months of non-surgical treatment.
CONSERVATIVE_CARE_MONTHS = 6
MAX_CONSERVATIVE_MONTHS = 120


@dataclass(frozen=True)
class Situation:
    """What the patient (or the referring physician) told us; nothing identifying."""

    prior_lumbar_fusion: bool | None = None
    conservative_months: int | None = None  # 0–120
    diagnostic_injection: str | None = None  # INJECTION_NOT_DONE | INJECTION_RELIEVED | INJECTION_NOT_RELIEVED

    def __post_init__(self):
        if self.diagnostic_injection not in (None, *dict(DIAGNOSTIC_INJECTION_CHOICES)):
            raise ValueError(f"Unknown diagnostic_injection: {self.diagnostic_injection!r}")
        if self.conservative_months is not None and not 0 <= self.conservative_months <= MAX_CONSERVATIVE_MONTHS:
            raise ValueError(f"conservative_months must be 0–{MAX_CONSERVATIVE_MONTHS}")

    @property
    def is_empty(self) -> bool:
        return self == Situation()

    def to_dict(self) -> dict:
        """Return a JSON-safe dict (for storing with a shortlist)."""
        return {
            "prior_lumbar_fusion": self.prior_lumbar_fusion,
            "conservative_months": self.conservative_months,
            "diagnostic_injection": self.diagnostic_injection,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> "Situation":
        """Build a Situation from to_dict() output; unknown keys are ignored."""
        data = data or {}
        return cls(
            prior_lumbar_fusion=data.get("prior_lumbar_fusion"),
            conservative_months=data.get("conservative_months"),
            diagnostic_injection=data.get("diagnostic_injection") or None,
        )

    def describe(self) -> list[str]:
        """Return plain-language lines describing the situation, for pages and PDFs."""
        lines = []
        if self.prior_lumbar_fusion is True:
            lines.append(gettext("Prior lumbar fusion"))
        elif self.prior_lumbar_fusion is False:
            lines.append(gettext("No prior lumbar fusion"))
        if self.conservative_months is not None:
            months = self.conservative_months
            lines.append(
                ngettext("%(months)d month of non-surgical care", "%(months)d months of non-surgical care", months)
                % {"months": months}
            )
        if self.diagnostic_injection is not None:
            label = str(dict(DIAGNOSTIC_INJECTION_CHOICES)[self.diagnostic_injection])
            lines.append(gettext("Diagnostic SI-joint injection: %(answer)s") % {"answer": in_sentence(label)})
        return lines


NO_SITUATION = Situation()


# --- Weights ----------------------------------------------------------------------------------------

SURGICAL_EXPERIENCE = "surgical_experience"
NONSURGICAL_EXPERIENCE = "nonsurgical_experience"
TRAINING = "training"
MIS_FUSION = "mis_fusion"
DIAGNOSTIC_INJECTION = "diagnostic_injection"
CONSERVATIVE_CARE = "conservative_care"
LUMBAR_FUSION = "lumbar_fusion"
DISTANCE = "distance"
VERIFIED = "verified"
AVAILABILITY = "availability"
CRITERIA = (
    SURGICAL_EXPERIENCE,
    NONSURGICAL_EXPERIENCE,
    TRAINING,
    MIS_FUSION,
    DIAGNOSTIC_INJECTION,
    CONSERVATIVE_CARE,
    LUMBAR_FUSION,
    DISTANCE,
    VERIFIED,
    AVAILABILITY,
)

# Balanced weights: the first nine sum to 100, availability adds as much as distance (docs/ranking.md says why);
# settings.SIJ_RANKING_WEIGHTS overrides them by key.
DEFAULT_WEIGHTS = {
    SURGICAL_EXPERIENCE: 18,
    NONSURGICAL_EXPERIENCE: 12,
    TRAINING: 8,
    MIS_FUSION: 10,
    DIAGNOSTIC_INJECTION: 12,
    CONSERVATIVE_CARE: 10,
    LUMBAR_FUSION: 8,
    DISTANCE: 16,
    VERIFIED: 6,
    AVAILABILITY: 16,
}

# How the situation changes the weights: (condition, {criterion: multiplier}), documented in docs/ranking.md.
SITUATION_MULTIPLIERS = [
    (
        "diagnostic injection not done yet",
        lambda s: s.diagnostic_injection == INJECTION_NOT_DONE,
        {DIAGNOSTIC_INJECTION: 2.0, NONSURGICAL_EXPERIENCE: 1.5},
    ),
    (
        "injection relieved the pain and at least 6 months of non-surgical care",
        lambda s: (
            s.diagnostic_injection == INJECTION_RELIEVED
            and s.conservative_months is not None
            and s.conservative_months >= CONSERVATIVE_CARE_MONTHS
        ),
        {SURGICAL_EXPERIENCE: 2.0, TRAINING: 1.5, MIS_FUSION: 2.0},
    ),
    (
        "fewer than 6 months of non-surgical care",
        lambda s: s.conservative_months is not None and s.conservative_months < CONSERVATIVE_CARE_MONTHS,
        {CONSERVATIVE_CARE: 2.0},
    ),
    (
        "prior lumbar fusion",
        lambda s: s.prior_lumbar_fusion is True,
        {LUMBAR_FUSION: 2.5},
    ),
]


def base_weights() -> dict[str, float]:
    """Return DEFAULT_WEIGHTS with settings.SIJ_RANKING_WEIGHTS applied."""
    overrides = getattr(settings, "SIJ_RANKING_WEIGHTS", {}) or {}
    unknown = set(overrides) - set(CRITERIA)
    if unknown:
        raise ValueError(f"SIJ_RANKING_WEIGHTS has unknown criteria: {', '.join(sorted(unknown))}")
    weights = {**DEFAULT_WEIGHTS, **overrides}
    if any(weight < 0 for weight in weights.values()) or not any(weights.values()):
        raise ValueError("Ranking weights must be non-negative and not all zero.")
    if not weights[AVAILABILITY] > 0:
        # The promise in docs/ranking.md: never ranked above a comparable specialist who is accepting new patients.
        raise ValueError("The availability weight must be more than 0.")
    return {key: float(weight) for key, weight in weights.items()}


def weights_for(situation: "Situation | None" = None) -> dict[str, float]:
    """Return the weight of each criterion for this patient situation."""
    weights = base_weights()
    for _label, applies, multipliers in SITUATION_MULTIPLIERS:
        if situation is not None and applies(situation):
            for criterion, factor in multipliers.items():
                weights[criterion] *= factor
    return weights


# --- Candidate facts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    """One procedure count, as plain values (ProcedureVolume instances have the same attributes)."""

    procedure: str
    count: int | None
    period_start: datetime.date
    period_end: datetime.date
    source: str
    verified: bool
    is_suppressed: bool = False


@dataclass(frozen=True)
class Candidate:
    """What the ranking knows about one specialist, as plain values."""

    id: int
    last_name: str
    first_name: str
    distance_miles: float
    services: frozenset = frozenset()  # Service values offered
    volumes: tuple = ()  # Volume-like objects: every count on record (the ranking picks the past-year ones)
    training_count: int = 0
    latest_training: str = ""  # e.g. "Minimally invasive SI-joint fusion course (2024)"
    verified_at: datetime.date | None = None
    profile_verified: bool = False  # a curator verified the profile (shown with verified counts)
    exact_location: bool = False  # the nearest practice is placed at its address, not its ZIP centre
    accepting_new_patients: bool = True


# --- Criteria ---------------------------------------------------------------------------------------

# Diminishing returns: part = 1 - exp(-n / k); n = k gives 0.63, n = 3k gives 0.95.
SURGICAL_K = 10  # fusions in the past year
NONSURGICAL_K = 25  # SI-joint injections and RF ablations in the past year
# A suppressed count stands for 1–10 patients (CMS withholds counts under 11): credit the lower bound.
SUPPRESSED_COUNT_CREDIT = 1
# Distance: the part halves every DISTANCE_HALF_MILES (20 miles -> 0.63, 50 -> 0.31, 100 -> 0.10).
DISTANCE_HALF_MILES = 30
# Verification: full credit within a year, half within three years.
VERIFIED_FRESH_DAYS = 365
VERIFIED_STALE_DAYS = 3 * 365

SURGICAL_PROCEDURES = (Procedure.MIS_SI_FUSION, Procedure.OPEN_SI_FUSION)
NONSURGICAL_PROCEDURES = (Procedure.SI_INJECTION, Procedure.RF_ABLATION)
COUNTED_PROCEDURES = SURGICAL_PROCEDURES + NONSURGICAL_PROCEDURES


def in_sentence(label: str) -> str:
    """Return a label for use mid-sentence: "Therapeutic SI-joint injection" -> "therapeutic SI-joint injection"."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def saturating(n: float, k: float) -> float:
    """Return 1 - exp(-n/k): 0 for nothing, approaching 1 with diminishing returns."""
    return 0.0 if n <= 0 else 1.0 - math.exp(-n / k)


def distance_part(miles: float) -> float:
    """Return the distance part-score: 1 on the doorstep, halving every DISTANCE_HALF_MILES."""
    return 0.5 ** (max(miles, 0.0) / DISTANCE_HALF_MILES)


def credited_count(volume) -> int:
    """Return the count a past-year volume contributes (suppressed counts credit their lower bound)."""
    if volume is None:
        return 0
    if volume.count is None:
        return SUPPRESSED_COUNT_CREDIT if volume.is_suppressed else 0
    return volume.count


@dataclass(frozen=True)
class Experience:
    """A candidate's past-year counts by procedure, and the last count of those with none current."""

    current: dict  # procedure -> Volume-like
    stale: dict  # procedure -> Volume-like (the latest count, too old to count)


def assess_experience(volumes: Iterable, today: datetime.date) -> Experience:
    """Split a candidate's counts into past-year ones (the directory's rule) and stale ones."""
    volumes = list(volumes)
    current, stale = {}, {}
    for procedure in COUNTED_PROCEDURES:
        chosen = select_past_year_volume(volumes, procedure, today=today)
        if chosen is not None:
            current[procedure] = chosen
            continue
        older = [v for v in volumes if v.procedure == procedure and v.period_end <= today]
        if older:
            stale[procedure] = max(older, key=lambda v: v.period_end)
    return Experience(current, stale)


# Each criterion's reason is worded by a function of the few plain values it depends on, kept per language
# (directory.volumes.kept_per_language): the search index words every criterion in every language for every
# specialist, and these values repeat across a directory. `language` is the language to word it in (the active
# one when None); the part-scores never depend on it.


def _volume_parts(experience: Experience, procedures, language) -> list[str]:
    parts = [describe_volume(experience.current[p], language=language) for p in procedures if p in experience.current]
    parts += [describe_stale(experience.stale[p], language=language) for p in procedures if p in experience.stale]
    return parts


@kept_per_language
def _no_count_reason(criterion: str) -> str:
    if criterion == SURGICAL_EXPERIENCE:
        return gettext("No past-year SI-joint fusion count on record")
    return gettext("No past-year SI-joint injection count on record")


def surgical_experience(c: Candidate, experience: Experience, language=None) -> tuple[float, str]:
    n = sum(credited_count(experience.current.get(p)) for p in SURGICAL_PROCEDURES)
    parts = _volume_parts(experience, SURGICAL_PROCEDURES, language)
    reason = "; ".join(parts) if parts else _no_count_reason(SURGICAL_EXPERIENCE, language=language)
    return saturating(n, SURGICAL_K), reason


@kept_per_language
def _offers_reason(offers: tuple) -> str:
    services = gettext(" and ").join(in_sentence(str(Service(s).label)) for s in offers)
    return gettext("; offers %(services)s") % {"services": services}


def nonsurgical_experience(c: Candidate, experience: Experience, language=None) -> tuple[float, str]:
    n = sum(credited_count(experience.current.get(p)) for p in NONSURGICAL_PROCEDURES)
    offers = tuple(s for s in (Service.THERAPEUTIC_SI_INJECTION, Service.RF_ABLATION) if s in c.services)
    part = 0.7 * saturating(n, NONSURGICAL_K) + 0.15 * len(offers)
    parts = _volume_parts(experience, NONSURGICAL_PROCEDURES, language)
    reason = "; ".join(parts) if parts else _no_count_reason(NONSURGICAL_EXPERIENCE, language=language)
    if offers:
        reason += _offers_reason(offers, language=language)
    return part, reason


@kept_per_language
def _training_reason(n: int, latest: str) -> str:
    if not n:
        return gettext("No SI-joint training on record")
    if latest:
        return ngettext(
            "%(count)d recorded SI-joint training (latest: %(latest)s)",
            "%(count)d recorded SI-joint trainings (latest: %(latest)s)",
            n,
        ) % {"count": n, "latest": latest}
    return ngettext("%(count)d recorded SI-joint training", "%(count)d recorded SI-joint trainings", n) % {"count": n}


def training(c: Candidate, experience: Experience, language=None) -> tuple[float, str]:
    n = c.training_count
    return (1.0 - 0.5**n if n else 0.0), _training_reason(n, c.latest_training, language=language)


def _mis_fusion_reason(offered: str | None) -> str:
    if offered == Service.MIS_SI_FUSION:
        return gettext(
            "Offers minimally invasive SI-joint fusion (smaller incisions, shorter recovery than open fusion)"
        )
    if offered == Service.OPEN_SI_FUSION:
        return gettext("Offers open SI-joint fusion only, not the minimally invasive procedure")
    return gettext("Does not offer minimally invasive SI-joint fusion")


def mis_fusion(services: frozenset) -> tuple[float, str]:
    if Service.MIS_SI_FUSION in services:
        return 1.0, _mis_fusion_reason(Service.MIS_SI_FUSION)
    if Service.OPEN_SI_FUSION in services:
        return 0.3, _mis_fusion_reason(Service.OPEN_SI_FUSION)
    return 0.0, _mis_fusion_reason(None)


def _diagnostic_injection_reason(offered: bool) -> str:
    if offered:
        return gettext("Confirms the diagnosis with an image-guided diagnostic SI-joint injection")
    return gettext("Does not list an image-guided diagnostic SI-joint injection")


def diagnostic_injection(services: frozenset) -> tuple[float, str]:
    offered = Service.DIAGNOSTIC_SI_INJECTION in services
    return float(offered), _diagnostic_injection_reason(offered)


CONSERVATIVE_PARTS = {
    Service.CONSERVATIVE_CARE: 0.6,
    Service.THERAPEUTIC_SI_INJECTION: 0.2,
    Service.RF_ABLATION: 0.2,
}


def _conservative_care_reason(offered: tuple) -> str:
    if not offered:
        return gettext("Does not list non-surgical SI-joint care")
    names = ", ".join(in_sentence(str(Service(s).label)) for s in offered)
    return gettext("Non-surgical care first: %(services)s") % {"services": names}


def conservative_care(services: frozenset) -> tuple[float, str]:
    offered = tuple(s for s in CONSERVATIVE_PARTS if s in services)
    score = sum(CONSERVATIVE_PARTS[s] for s in offered) if offered else 0.0
    return score, _conservative_care_reason(offered)


def _lumbar_fusion_reason(checks: bool, treats: bool) -> str:
    if checks and treats:
        return gettext("Checks the SI joint in every low-back work-up and treats pain after lumbar fusion")
    if checks:
        return gettext("Checks the SI joint in every low-back work-up")
    if treats:
        return gettext("Treats pain after lumbar fusion")
    return gettext("Does not say they check the SI joint in low-back work-ups")


def lumbar_fusion(services: frozenset) -> tuple[float, str]:
    checks = Service.EVALUATES_SI_IN_LUMBAR_WORKUP in services
    treats = Service.TREATS_POST_LUMBAR_FUSION in services
    return 0.5 * checks + 0.5 * treats, _lumbar_fusion_reason(checks, treats)


@kept_per_language
def _verified_reason(score: float, verified_at: datetime.date | None) -> str:
    if verified_at is None:
        return gettext("Profile not verified by our curators yet")
    when = month_year(verified_at)
    if score == 1.0:
        return gettext("Profile verified %(month)s") % {"month": when}
    if score == 0.5:
        return gettext("Profile verified %(month)s (more than a year ago)") % {"month": when}
    return gettext("Profile last verified %(month)s, more than three years ago") % {"month": when}


def verified(c: Candidate, experience: Experience, today: datetime.date, language=None) -> tuple[float, str]:
    # The reason depends on today only through the score (how long ago): `today` is not part of its key.
    if c.verified_at is None:
        score = 0.0
    else:
        age = (today - c.verified_at).days
        score = 1.0 if age <= VERIFIED_FRESH_DAYS else 0.5 if age <= VERIFIED_STALE_DAYS else 0.0
    return score, _verified_reason(score, c.verified_at, language=language)


def availability(accepting: bool) -> tuple[float, str]:
    if accepting:
        return 1.0, gettext("Accepting new patients")
    return 0.0, gettext("Not accepting new patients: ranked below comparable specialists who are")


# Room for every combination of services and availability (2 ** 10) in four languages: kept words that do not fit
# are worded again each time they come round, as a rebuild visits specialists in key order, not by combination.
@kept_per_language(maxsize=2 ** (len(Service) + 3))
def _offered_results(services: frozenset, accepting: bool) -> tuple[tuple[float, str], ...]:
    """Return the criteria that depend on the services offered and availability alone (MIS fusion, diagnostic
    injection, conservative care, lumbar fusion, availability), in the active language: at most a thousand
    combinations in a directory, scored and worded once each instead of once per specialist (these five
    were half of wording a specialist's reasons, BENCHMARKS.md "Index rebuild")."""
    return (
        mis_fusion(services),
        diagnostic_injection(services),
        conservative_care(services),
        lumbar_fusion(services),
        availability(accepting),
    )


# --- Scoring ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    criterion: str
    score: float  # in [0, 1]
    weight: float
    reason: str

    @property
    def contribution(self) -> float:
        return self.score * self.weight


@dataclass(frozen=True)
class Assessment:
    candidate: Candidate
    score: float  # 0–100, rounded to 1 decimal
    parts: list[Part] = field(default_factory=list)
    experience: Experience | None = None

    @property
    def reasons(self) -> list[str]:
        """Return the reasons, the one contributing most first."""
        return reasons_in_order(
            {p.criterion: p.score for p in self.parts},
            {p.criterion: p.reason for p in self.parts},
            {p.criterion: p.weight for p in self.parts},
        )


# The criteria that do not depend on where the patient is: the search stores these per specialist.
STATIC_CRITERIA = tuple(criterion for criterion in CRITERIA if criterion != DISTANCE)


def clamp(score: float) -> float:
    return min(max(score, 0.0), 1.0)


def static_results(
    candidate: Candidate, today: datetime.date, experience=None, *, language: str | None = None
) -> dict[str, tuple[float, str]]:
    """Return {criterion: (part-score, reason)} for every criterion except distance, worded in `language` (the
    active one when None)."""
    experience = experience or assess_experience(candidate.volumes, today)
    language = language or get_language()
    mis, diagnostic, conservative, lumbar, available = _offered_results(
        candidate.services, bool(candidate.accepting_new_patients), language=language
    )
    return {
        SURGICAL_EXPERIENCE: surgical_experience(candidate, experience, language),
        NONSURGICAL_EXPERIENCE: nonsurgical_experience(candidate, experience, language),
        TRAINING: training(candidate, experience, language),
        MIS_FUSION: mis,
        DIAGNOSTIC_INJECTION: diagnostic,
        CONSERVATIVE_CARE: conservative,
        LUMBAR_FUSION: lumbar,
        VERIFIED: verified(candidate, experience, today, language),
        AVAILABILITY: available,
    }


def static_parts(candidate: Candidate, today: datetime.date, results=None) -> dict[str, float]:
    """Return {criterion: part-score} for every criterion except distance (what the search index stores)."""
    results = results or static_results(candidate, today)
    return {criterion: clamp(score) for criterion, (score, _reason) in results.items()}


def static_sum(scores: dict[str, float], weights: dict[str, float]) -> float:
    """Return Σ weight·part over STATIC_CRITERIA, summed in that order (a search may compute it in SQL)."""
    return sum(scores[criterion] * weights[criterion] for criterion in STATIC_CRITERIA)


def scorer(weights: dict[str, float]):
    """Return total(static_sum, distance_part) → 100 × Σ weight·part / Σ weight, rounded to 1 decimal.

    The one total formula. The static criteria are summed first and distance added last, so that a search can
    take the static sum from its index and add each candidate's distance (the same float operations in the same
    order: the same score to the last bit).
    """
    total_weight = sum(weights[criterion] for criterion in CRITERIA)
    distance_weight = weights[DISTANCE]

    def total(static: float, distance: float) -> float:
        if not total_weight:
            return 0.0
        return round(100.0 * (static + distance * distance_weight) / total_weight, 1)

    return total


def weighted_total(scores: dict[str, float], weights: dict[str, float]) -> float:
    """Return the total score (see scorer()) from every criterion's part-score."""
    return scorer(weights)(static_sum(scores, weights), scores[DISTANCE])


def reasons_in_order(scores: dict[str, float], reasons: dict[str, str], weights: dict[str, float]) -> list[str]:
    """Return the reasons, the one contributing most (part-score × weight) first; ties in CRITERIA order.

    "Not accepting new patients" comes first whatever it contributes (nothing): it is what a patient must know
    first, and it explains why the specialist ranks below comparable ones (a card shows the first three).
    """
    order = sorted(
        CRITERIA,
        key=lambda criterion: (
            not (criterion == AVAILABILITY and scores[criterion] == 0),
            -scores[criterion] * weights[criterion],
            CRITERIA.index(criterion),
        ),
    )
    return [reasons[criterion] for criterion in order]


def distance_reason(miles: float, exact: bool = False) -> str:
    """Worded as exactly as it is known (directory.geo.describe_distance): "About 3 miles away" from a ZIP centre."""
    return geo.describe_distance_away(miles, exact)


def assess(candidate: Candidate, weights: dict[str, float], *, today: datetime.date | None = None) -> Assessment:
    """Score one candidate and explain each criterion."""
    today = today or timezone.localdate()
    experience = assess_experience(candidate.volumes, today)
    results = static_results(candidate, today, experience)
    results[DISTANCE] = (
        distance_part(candidate.distance_miles),
        distance_reason(candidate.distance_miles, candidate.exact_location),
    )
    parts = [
        Part(criterion, clamp(results[criterion][0]), weights[criterion], results[criterion][1])
        for criterion in CRITERIA
    ]
    return Assessment(candidate, weighted_total({p.criterion: p.score for p in parts}, weights), parts, experience)


def static_parts_valid_until(candidate: Candidate, today: datetime.date) -> datetime.date:
    """Return the first day static_parts() may change as time passes (the facts themselves unchanged).

    A past-year count leaves the window SIJ_VOLUME_WINDOW_MONTHS after its period ends; a count whose period
    ends in the future becomes eligible when it ends; a verification ages at one and at three years.
    Recomputed at most a year later in any case.
    """
    days = [today + datetime.timedelta(days=365)]
    for volume in candidate.volumes:
        if volume.procedure not in COUNTED_PROCEDURES:
            continue
        if volume.period_end > today:
            days.append(volume.period_end)
        else:
            days.append(leaves_window_on(volume.period_end))
    if candidate.verified_at is not None:
        for age in (VERIFIED_FRESH_DAYS + 1, VERIFIED_STALE_DAYS + 1):
            days.append(candidate.verified_at + datetime.timedelta(days=age))
    return min(day for day in days if day > today)


# --- Order ------------------------------------------------------------------------------------------

SORTS = ("best", "distance")


class Ranked(NamedTuple):
    """A scored candidate laid out in result order: of two, the better one compares smaller.

    best: score descending, then distance, last name, first name (casefolded), id; distance: distance, then score
    descending, then the same. `carry` is what the caller needs back (never compared: ids are unique).
    """

    order: float  # -score when sorting by best match, the distance when sorting by distance
    then: float  # the distance when sorting by best match, -score when sorting by distance
    last_name_key: str  # casefolded
    first_name_key: str
    id: int
    score: float
    distance_miles: float  # rounded to 0.1, as shown and as scored
    carry: Any = None


def in_result_order(scored: Iterable[tuple], *, sort: str = "best", top: int | None = None) -> list[Ranked]:
    """Return (score, distance_miles, last_name_key, first_name_key, id, carry) rows as Ranked, in result order.

    The one ordering of search results (referral.matching uses it; the property tests check it). With `top`,
    only the first `top` are kept and only those sorted: a page is a few dozen of up to thousands of rows.
    Equal distances sort by score, so that a comparable specialist who is accepting new patients comes first in
    either order.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}")
    if sort == "best":
        rows = [
            (-score, miles, last, first, pk, score, miles, carry) for score, miles, last, first, pk, carry in scored
        ]
    else:
        rows = [
            (miles, -score, last, first, pk, score, miles, carry) for score, miles, last, first, pk, carry in scored
        ]
    ordered = sorted(rows) if top is None else heapq.nsmallest(top, rows)
    return [Ranked._make(row) for row in ordered]


def key_facts(
    candidate: Candidate, *, today: datetime.date | None = None, experience=None, language: str | None = None
) -> list[str]:
    """Return the key facts for a result card: each past-year count with period, source and verification, in
    `language` (the active one when None).

    e.g. "34 minimally invasive SI-joint fusions, Jan–Dec 2025, self-reported, verified Mar 2026".
    """
    today = today or timezone.localdate()
    experience = experience or assess_experience(candidate.volumes, today)
    language = language or get_language()
    facts = []
    for procedure in COUNTED_PROCEDURES:
        volume = experience.current.get(procedure)
        if volume is None:
            continue
        facts.append(volume_fact(volume, verified_on=candidate.verified_at, language=language))
    for procedure in COUNTED_PROCEDURES:
        if procedure in experience.stale:
            facts.append(describe_stale(experience.stale[procedure], language=language))
    if candidate.training_count:
        facts.append(_training_reason(candidate.training_count, candidate.latest_training, language=language))
    return facts
