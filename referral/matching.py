"""Find the published specialists near a ZIP, ranked for the patient's situation.

The recipe: ZIP centroid → bounding box → one indexed query for the (specialist, practice) pairs in the box
→ exact distance to each specialist's nearest practice → radius filter → flat facts for the candidates →
the pure ranking (referral/ranking.py) → full objects, with their relations prefetched, for the requested
page only. Loading only plain tuples for the candidates keeps a search fast with thousands of them.
"""

import datetime
import math
from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils import timezone

from directory import geo
from directory.models import Practice, Procedure, ProcedureVolume, Service, Specialist, Training, ZipCode
from referral import ranking
from referral.ranking import NO_SITUATION, Candidate, Situation, Volume

SORTS = ("best", "distance")
MIN_RESULTS = 3  # fewer than this within the radius → show the nearest ones beyond it
BEYOND_LIMIT = 5
SERVICE_FIELDS = [service.value for service in Service]
VOLUME_FIELDS = ["procedure", "count", "period_start", "period_end", "source", "verified", "is_suppressed"]


@dataclass
class Match:
    specialist: Specialist  # practices, volumes, trainings prefetched
    practice: Practice | None  # the nearest practice to the origin (None only if no practice has coordinates)
    distance_miles: float
    score: float  # 0–100, rounded to 1 decimal
    reasons: list[str]  # most weighty first
    facts: list[str]  # key facts with numbers, periods, sources


@dataclass
class SearchResult:
    origin: ZipCode
    radius_miles: float
    count: int  # matches within the radius (after filters)
    matches: list[Match]  # the requested page
    beyond_radius: list[Match]  # when count < MIN_RESULTS: the nearest matches outside the radius
    page: int
    page_size: int
    has_next: bool

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(self.count / self.page_size))


def local_date(moment: datetime.datetime | None) -> datetime.date | None:
    return None if moment is None else timezone.localdate(moment)


def training_label(course: str, year: int | None) -> str:
    return f"{course}, {year}" if year else course


def candidate_from_specialist(specialist: Specialist, distance_miles: float) -> Candidate:
    """Return the ranking's view of a specialist (uses prefetched volumes and trainings)."""
    trainings = list(specialist.trainings.all())
    latest = max(trainings, key=lambda t: (t.year or 0, t.pk), default=None)
    return Candidate(
        id=specialist.pk,
        last_name=specialist.last_name,
        first_name=specialist.first_name,
        distance_miles=distance_miles,
        services=frozenset(specialist.services),
        volumes=tuple(specialist.volumes.all()),
        training_count=len(trainings),
        latest_training=training_label(latest.course, latest.year) if latest else "",
        verified_at=local_date(specialist.verified_at),
    )


def nearest_practice(specialist: Specialist, origin: ZipCode) -> tuple[Practice | None, float]:
    """Return the specialist's practice nearest to the origin and its distance (uses prefetched practices)."""
    located = [(geo.distance_miles(origin.point, p.point), p.pk, p) for p in specialist.practices.all() if p.point]
    if not located:
        return None, math.inf
    miles, _pk, practice = min(located, key=lambda item: item[:2])
    return practice, miles


def match_specialist(*, specialist: Specialist, origin: ZipCode, situation: Situation = NO_SITUATION) -> Match:
    """Explain one specialist relative to an origin: distance, score, reasons and key facts."""
    practice, miles = nearest_practice(specialist, origin)
    candidate = candidate_from_specialist(specialist, miles if practice else 0.0)
    today = timezone.localdate()
    assessment = ranking.assess(candidate, ranking.weights_for(situation), today=today)
    return Match(
        specialist=specialist,
        practice=practice,
        distance_miles=round(miles, 1) if practice else math.inf,
        score=assessment.score,
        reasons=assessment.reasons,
        facts=ranking.key_facts(candidate, today=today),
    )


def profile_queryset(queryset=None):
    """Return published specialists with everything a result card or profile shows prefetched."""
    queryset = queryset if queryset is not None else Specialist.objects.all()
    return queryset.published().prefetch_related(
        Prefetch("practices", queryset=Practice.objects.order_by("name", "id")),
        Prefetch("volumes", queryset=ProcedureVolume.objects.order_by("procedure", "-period_end", "source")),
        Prefetch("trainings", queryset=Training.objects.order_by("-year", "course")),
    )


# --- Candidates as plain values ----------------------------------------------------------------------


def nearest_in_box(published, origin: ZipCode, radius_miles: float | None) -> dict[int, tuple[float, int]]:
    """Return {specialist id: (miles, practice id)} for the nearest practice of each specialist in the box.

    With radius_miles=None there is no box (every published specialist with a located practice).
    """
    pairs = published.filter(practices__latitude__isnull=False, practices__longitude__isnull=False)
    if radius_miles is not None:
        box = geo.bounding_box(origin.point, radius_miles)
        pairs = pairs.filter(
            practices__latitude__range=(box.south, box.north),
            practices__longitude__range=(box.west, box.east),
        )
    nearest: dict[int, tuple[float, int]] = {}
    for specialist_id, practice_id, latitude, longitude in pairs.values_list(
        "pk", "practices__pk", "practices__latitude", "practices__longitude"
    ).order_by():
        found = (geo.distance_miles(origin.point, (latitude, longitude)), practice_id)
        if specialist_id not in nearest or found < nearest[specialist_id]:
            nearest[specialist_id] = found
    return nearest


def load_candidates(published, nearest: dict[int, tuple[float, int]]) -> list[Candidate]:
    """Return Candidates (plain values) for these specialist ids, in three queries."""
    if not nearest:
        return []
    ids = list(nearest)
    volumes: dict[int, list[Volume]] = {}
    for specialist_id, *values in ProcedureVolume.objects.filter(
        specialist_id__in=ids, procedure__in=ranking.COUNTED_PROCEDURES
    ).values_list("specialist_id", *VOLUME_FIELDS):
        volumes.setdefault(specialist_id, []).append(Volume(*values))
    trainings: dict[int, list[tuple]] = {}
    for specialist_id, course, year, pk in Training.objects.filter(specialist_id__in=ids).values_list(
        "specialist_id", "course", "year", "pk"
    ):
        trainings.setdefault(specialist_id, []).append((year or 0, pk, course, year))
    candidates = []
    for specialist_id, last_name, first_name, verified_at, *offers in published.filter(pk__in=ids).values_list(
        "pk", "last_name", "first_name", "verified_at", *SERVICE_FIELDS
    ):
        own_trainings = trainings.get(specialist_id, [])
        latest = max(own_trainings, default=None)
        candidates.append(
            Candidate(
                id=specialist_id,
                last_name=last_name,
                first_name=first_name,
                distance_miles=round(nearest[specialist_id][0], 1),
                services=frozenset(name for name, offered in zip(SERVICE_FIELDS, offers, strict=True) if offered),
                volumes=tuple(volumes.get(specialist_id, ())),
                training_count=len(own_trainings),
                latest_training=training_label(latest[2], latest[3]) if latest else "",
                verified_at=local_date(verified_at),
            )
        )
    return candidates


def past_year_mis_fusions(candidate: Candidate, today: datetime.date) -> int | None:
    """Return the past-year MIS SI-joint fusion count (None when there is none or it was suppressed)."""
    volume = ranking.select_past_year_volume(candidate.volumes, Procedure.MIS_SI_FUSION, today=today)
    return None if volume is None else volume.count


def find_specialists(
    *,
    origin: ZipCode,
    radius_miles: float,
    situation: Situation = NO_SITUATION,
    queryset=None,
    sort: str = "best",
    page: int = 1,
    page_size: int = 20,
    min_mis_fusions: int | None = None,
) -> SearchResult:
    """Return the published specialists within `radius_miles` of `origin`, ranked for the situation.

    `queryset` is an optional pre-filtered Specialist queryset (the FilterSet's); it is always restricted to
    published profiles. `min_mis_fusions` keeps only specialists whose past-year count of minimally invasive
    SI-joint fusions is at least that (a suppressed count does not qualify: it is not known).
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}")
    page, page_size = max(int(page), 1), max(int(page_size), 1)
    published = (queryset if queryset is not None else Specialist.objects.all()).published()
    today = timezone.localdate()
    weights = ranking.weights_for(situation)

    def qualifies(candidate):
        if not min_mis_fusions:
            return True
        count = past_year_mis_fusions(candidate, today)
        return count is not None and count >= min_mis_fusions

    nearby = {
        pk: found for pk, found in nearest_in_box(published, origin, radius_miles).items() if found[0] <= radius_miles
    }
    candidates = [c for c in load_candidates(published, nearby) if qualifies(c)]
    assessed = sorted(
        (ranking.assess(c, weights, today=today) for c in candidates),
        key=lambda a: ranking.ordering_key(a, sort),
    )
    start = (page - 1) * page_size
    page_assessments = assessed[start : start + page_size]

    beyond_assessments = []
    if len(assessed) < MIN_RESULTS:
        beyond = find_beyond(published, origin, radius_miles, qualifies)
        beyond_assessments = sorted(
            (ranking.assess(c, weights, today=today) for c in beyond),
            key=lambda a: ranking.ordering_key(a, "distance"),
        )

    matches = build_matches(page_assessments + beyond_assessments, origin, today)
    return SearchResult(
        origin=origin,
        radius_miles=radius_miles,
        count=len(assessed),
        matches=matches[: len(page_assessments)],
        beyond_radius=matches[len(page_assessments) :],
        page=page,
        page_size=page_size,
        has_next=start + page_size < len(assessed),
    )


def find_beyond(published, origin: ZipCode, radius_miles: float, qualifies) -> list[Candidate]:
    """Return the nearest (up to BEYOND_LIMIT) qualifying candidates outside the radius, widening the box."""
    reach = max(radius_miles * 2, radius_miles + 50)
    while True:
        limit = reach if reach < 3000 else None  # past 3,000 miles, look everywhere (Alaska, Hawaii, territories)
        outside = {
            pk: found
            for pk, found in nearest_in_box(published, origin, limit).items()
            if radius_miles < found[0] and (limit is None or found[0] <= limit)
        }
        candidates = sorted(
            (c for c in load_candidates(published, outside) if qualifies(c)),
            key=lambda c: (c.distance_miles, c.last_name.casefold(), c.first_name.casefold(), c.id),
        )
        if len(candidates) >= BEYOND_LIMIT or limit is None:
            return candidates[:BEYOND_LIMIT]
        reach *= 4


def build_matches(assessments, origin: ZipCode, today) -> list[Match]:
    """Return Match objects for these assessments, with full specialists (relations prefetched)."""
    ids = [a.candidate.id for a in assessments]
    specialists = profile_queryset().in_bulk(ids)
    matches = []
    for assessment in assessments:
        specialist = specialists[assessment.candidate.id]
        practice, _miles = nearest_practice(specialist, origin)
        matches.append(
            Match(
                specialist=specialist,
                practice=practice,
                distance_miles=assessment.candidate.distance_miles,
                score=assessment.score,
                reasons=assessment.reasons,
                facts=ranking.key_facts(assessment.candidate, today=today),
            )
        )
    return matches
