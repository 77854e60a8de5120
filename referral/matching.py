"""Find the published specialists near a ZIP, ranked for the patient's situation.

The recipe: ZIP centroid → bounding box → one indexed query for the (specialist, practice) pairs in the box
→ exact distance to each specialist's nearest practice → radius filter → flat facts for the candidates →
the pure ranking (referral/ranking.py) → full objects, with their relations prefetched, for the requested
page only. Loading only plain tuples for the candidates keeps a search fast with thousands of them.
"""

import datetime
import math
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from directory import geo
from directory.models import Practice, Procedure, ProcedureVolume, Specialist, Training, ZipCode
from referral import ranking
from referral.ranking import NO_SITUATION, Candidate, Situation

SORTS = ("best", "distance")
MIN_RESULTS = 3  # fewer than this within the radius → show the nearest ones beyond it
BEYOND_LIMIT = 5


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
    miles_to = geo.distance_from(origin.point)
    located = [(miles_to(p.point), p.pk, p) for p in specialist.practices.all() if p.point]
    if not located:
        return None, math.inf
    miles, _pk, practice = min(located, key=lambda item: item[:2])
    return practice, miles


def match_specialist(*, specialist: Specialist, origin: ZipCode, situation: Situation = NO_SITUATION) -> Match:
    """Explain one specialist relative to an origin: distance, score, reasons and key facts."""
    practice, miles = nearest_practice(specialist, origin)
    candidate = candidate_from_specialist(specialist, round(miles, 1) if practice else 0.0)
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
    return queryset.published().prefetch_related("practices", "volumes", "trainings")  # in their Meta order


# --- Candidates from the search index ----------------------------------------------------------------

ENTRY = "search_entries__"
ENTRY_COLUMNS = ["pk", ENTRY + "practice_id", ENTRY + "latitude", ENTRY + "longitude", "last_name", "first_name"]
ENTRY_COLUMNS += [ENTRY + "valid_until", *(ENTRY + criterion for criterion in ranking.STATIC_CRITERIA)]


@dataclass
class Scored:
    """A candidate as the search sees it: plain values only, enough to order and page."""

    id: int
    practice_id: int
    exact_miles: float
    distance_miles: float  # rounded to 0.1, as shown and as scored
    last_name: str
    first_name: str
    parts: dict | None  # the static part-scores, None when they have aged and need recomputing
    score: float = 0.0

    def key(self, sort: str) -> tuple:
        tail = (self.distance_miles, self.last_name.casefold(), self.first_name.casefold(), self.id)
        return tail if sort == "distance" else (-self.score, *tail)


def scan(published, origin: ZipCode, reach: float | None, today, min_mis_fusions) -> dict[int, Scored]:
    """Return each specialist's nearest indexed practice within `reach` miles (None: anywhere), one query."""
    entries = Q()
    if reach is not None:
        box = geo.bounding_box(origin.point, reach)
        entries &= Q(search_entries__latitude__range=(box.south, box.north))
        entries &= Q(search_entries__longitude__range=(box.west, box.east))
    else:
        entries &= Q(search_entries__isnull=False)
    if min_mis_fusions:  # aged rows are re-checked after recomputing
        entries &= Q(search_entries__past_year_mis_fusions__gte=min_mis_fusions) | Q(
            search_entries__valid_until__lte=today
        )
    miles_to = geo.distance_from(origin.point)
    nearest: dict[int, Scored] = {}
    today_iso = today.isoformat()  # valid_until arrives as a date (PostgreSQL) or its ISO text (SQLite)
    for pk, practice_id, latitude, longitude, last, first, valid_until, *parts in raw_rows(
        published.filter(entries).values_list(*ENTRY_COLUMNS).order_by()
    ):
        miles = miles_to((latitude, longitude))
        if reach is not None and miles > reach:
            continue
        found = nearest.get(pk)
        if found is None or (miles, practice_id) < (found.exact_miles, found.practice_id):
            static = dict(zip(ranking.STATIC_CRITERIA, parts, strict=True)) if str(valid_until) > today_iso else None
            nearest[pk] = Scored(pk, practice_id, miles, round(miles, 1), last, first, static)
    return nearest


def raw_rows(queryset) -> list[tuple]:
    """Return the rows of a values_list() queryset as the database driver gives them.

    Skips the ORM's per-value converters, which cost more than the query itself for a few thousand index rows
    (BENCHMARKS.md, "Search"); the scan's columns are numbers, text and one date (see scan())."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # e.g. the FilterSet's queryset is pk__in=[]
        return []
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def score_all(scored: list[Scored], weights, today, min_mis_fusions) -> list[Scored]:
    """Set each candidate's score; recompute aged part-scores from the directory (rare: the index is refreshed
    daily). Return the candidates that still qualify."""
    aged = [s for s in scored if s.parts is None]
    if aged:
        specialists = profile_queryset().in_bulk([s.id for s in aged])
        for s in aged:
            candidate = candidate_from_specialist(specialists[s.id], s.distance_miles)
            s.parts = ranking.static_parts(candidate, today)
            if min_mis_fusions and not (past_year_mis_fusions(candidate, today) or 0) >= min_mis_fusions:
                s.parts = None  # no longer qualifies
        scored = [s for s in scored if s.parts is not None]
    for s in scored:
        s.score = ranking.weighted_total(
            {**s.parts, ranking.DISTANCE: ranking.distance_part(s.distance_miles)}, weights
        )
    return scored


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

    nearby = list(scan(published, origin, radius_miles, today, min_mis_fusions).values())
    ranked = sorted(score_all(nearby, weights, today, min_mis_fusions), key=lambda s: s.key(sort))
    start = (page - 1) * page_size
    on_page = ranked[start : start + page_size]
    beyond = (
        find_beyond(published, origin, radius_miles, weights, today, min_mis_fusions)
        if len(ranked) < MIN_RESULTS
        else []
    )

    matches = build_matches(on_page + beyond, weights, today)
    return SearchResult(
        origin=origin,
        radius_miles=radius_miles,
        count=len(ranked),
        matches=matches[: len(on_page)],
        beyond_radius=matches[len(on_page) :],
        page=page,
        page_size=page_size,
        has_next=start + page_size < len(ranked),
    )


def find_beyond(published, origin: ZipCode, radius_miles: float, weights, today, min_mis_fusions) -> list[Scored]:
    """Return the nearest (up to BEYOND_LIMIT) candidates outside the radius, widening the search as needed."""
    reach = max(radius_miles * 2, radius_miles + 50)
    while True:
        limit = reach if reach < 3000 else None  # past 3,000 miles, look everywhere (Alaska, Hawaii, territories)
        found = scan(published, origin, limit, today, min_mis_fusions)
        outside = score_all(
            [s for s in found.values() if s.exact_miles > radius_miles], weights, today, min_mis_fusions
        )
        if len(outside) >= BEYOND_LIMIT or limit is None:
            return sorted(outside, key=lambda s: s.key("distance"))[:BEYOND_LIMIT]
        reach *= 4


class Loaded(QuerySet):
    """A related manager's rows, already loaded: what `specialist.practices.all()` returns after load_relations().

    Reading it (iterating, len, count, exists, indexing, first) uses the loaded rows, like a prefetch. Anything
    that needs SQL (filter, order_by, update, …) builds the real related query on first use, so it stays right.
    Django's own prefetch builds that filtered query for every object up front, which costs more than the SQL
    for a page of results (BENCHMARKS.md, "Search").
    """

    @classmethod
    def rows_of(cls, model, instance, name: str, rows: list) -> "Loaded":
        loaded = cls(model)
        loaded._query = None  # built on first use (clones of it carry a query of their own)
        loaded._related_to = (instance, name)
        loaded._result_cache = rows
        loaded._prefetch_done = True
        return loaded

    @property
    def query(self):
        if self._query is None:
            instance, name = self._related_to
            cache = instance._prefetched_objects_cache
            loaded = cache.pop(name)  # the related manager returns the cache while it is there
            try:
                self._query = getattr(instance, name).get_queryset().query
            finally:
                cache[name] = loaded
        return self._query

    @query.setter
    def query(self, value):
        self._query = value


def load_relations(specialists: list[Specialist]) -> None:
    """Load the practices, volumes and trainings of these specialists (three queries), in their Meta order,
    into each one's prefetch cache: `specialist.practices.all()` etc. then run no query."""
    by_id = {s.pk: s for s in specialists}
    if not by_id:
        return
    models = {"practices": Practice, "volumes": ProcedureVolume, "trainings": Training}
    rows: dict[str, dict[int, list]] = {name: {pk: [] for pk in by_id} for name in models}
    for practice in Practice.objects.filter(affiliation__specialist_id__in=by_id).annotate(
        _prefetch_specialist_id=F("affiliation__specialist_id")
    ):
        rows["practices"][practice._prefetch_specialist_id].append(practice)
    for name, model in (("volumes", ProcedureVolume), ("trainings", Training)):
        field = model._meta.get_field("specialist")
        for row in model.objects.filter(specialist_id__in=by_id):
            field.set_cached_value(row, by_id[row.specialist_id])  # row.specialist without a query, as a prefetch
            rows[name][row.specialist_id].append(row)
    for pk, specialist in by_id.items():
        cache = specialist.__dict__.setdefault("_prefetched_objects_cache", {})
        for name, model in models.items():
            cache[name] = Loaded.rows_of(model, specialist, name, rows[name][pk])


def build_matches(scored: list[Scored], weights, today) -> list[Match]:
    """Return Match objects for these candidates, with full specialists (relations loaded): four queries."""
    specialists = Specialist.objects.published().in_bulk([s.id for s in scored]) if scored else {}
    load_relations(list(specialists.values()))
    matches = []
    for s in scored:
        specialist = specialists[s.id]
        practice = next(p for p in specialist.practices.all() if p.pk == s.practice_id)
        candidate = candidate_from_specialist(specialist, s.distance_miles)
        assessment = ranking.assess(candidate, weights, today=today)
        matches.append(
            Match(
                specialist=specialist,
                practice=practice,
                distance_miles=s.distance_miles,
                score=s.score,
                reasons=assessment.reasons,
                facts=ranking.key_facts(candidate, today=today, experience=assessment.experience),
            )
        )
    return matches
