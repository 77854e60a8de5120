"""Find the published specialists near a ZIP, ranked for the patient's situation.

The recipe: ZIP centroid → the search index's rows (referral.SearchEntry) in the circle, from this process's copy
of the index in memory (scan_resident, referral.resident) or else from the database (the circle's stretch of each
latitude band, circle_windows, in one indexed query), with each one's static part-scores weighted and summed →
the specialists surely within the radius counted, and only those that may make the page, or lie near its edge,
kept (scan_resident, circle_query) → exact distance to each one's nearest practice → radius filter → the total
score (ranking.scorer) → order (ranking.in_result_order, the one ordering of results) → for the requested page
only, full objects and the reasons and key facts the index holds. Plain tuples
for the candidates keep a search fast with thousands of them; the private Django and psycopg APIs that keeps it
within its budget live in referral/fastpath.py. Fewer than MIN_RESULTS within the radius: the nearest beyond it,
in widening rings of band stretches (find_beyond), never the whole index while there are enough to show.
"""

import datetime
import functools
import heapq
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.utils import timezone, translation

from directory import geo
from directory.models import Insurance, Practice, Procedure, Specialist, ZipCode
from directory.volumes import select_past_year_volume
from referral import ranking, resident
from referral.fastpath import fetch_all, set_prefetched
from referral.models import SearchEntry
from referral.ranking import NO_SITUATION, SORTS, STATIC_CRITERIA, Candidate, Ranked, Situation

logger = logging.getLogger(__name__)

MIN_RESULTS = 3  # fewer than this within the radius → show the nearest ones beyond it
BEYOND_LIMIT = 5
STRETCHES_PER_SELECT = 64  # see scan_query()
WIDENING = 1.5  # the reach's growth per step of the beyond-radius search (1.5² ≈ 2.3× the area)
CLIP_PAST = 64  # a widening step of more stretches than this first cuts them to their bands' rows (clip_to_extents)


@dataclass
class Match:
    specialist: Specialist
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


def training_summary(trainings) -> tuple[int, str]:
    """Return (how many, the latest one's label) of trainings given as (course, year, id) tuples.

    The latest is the one of the latest year (no year: the oldest), then the last recorded (highest id).
    """
    latest = max(trainings, key=lambda t: (t[1] or 0, t[2]), default=None)
    if latest is None:
        return 0, ""
    course, year, _id = latest
    return len(trainings), f"{course}, {year}" if year else course


def candidate_from_specialist(specialist: Specialist, distance_miles: float, *, exact: bool = False) -> Candidate:
    """Return the ranking's view of a specialist (uses prefetched volumes and trainings)."""
    trainings = [(t.course, t.year, t.pk) for t in specialist.trainings.all()]
    return candidate_from_values(specialist, distance_miles, tuple(specialist.volumes.all()), trainings, exact=exact)


def candidate_from_values(
    specialist: Specialist, distance_miles: float, volumes: tuple, trainings: list, *, exact: bool = False
) -> Candidate:
    """Return the ranking's view of a specialist from its counts (ranking.Volume-like) and its trainings as
    (course, year, id) tuples: the search index loads these as plain values, not model instances."""
    training_count, latest_training = training_summary(trainings)
    return Candidate(
        id=specialist.pk,
        last_name=specialist.last_name,
        first_name=specialist.first_name,
        distance_miles=distance_miles,
        services=frozenset(specialist.services),
        volumes=volumes,
        training_count=training_count,
        latest_training=latest_training,
        verified_at=local_date(specialist.verified_at),
        exact_location=exact,
        accepting_new_patients=specialist.accepting_new_patients,
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
    candidate = candidate_from_specialist(
        specialist, round(miles, 1) if practice else 0.0, exact=bool(practice and practice.has_exact_location)
    )
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
    return queryset.published().prefetch_related("practices__insurance", "volumes", "trainings")  # in Meta order


# --- Where to look: stretches of latitude bands --------------------------------------------------------

RADIANS_PER_MILE = 1.609344 / geo.GEOPY_EARTH_RADIUS_KM  # the inverse of geo.distance_from()'s angle → miles
SLACK_DEGREES = 1e-4  # ~10 m past each computed edge: covers the rounding of the trigonometry below
WHOLE_BAND = 180.0


class Windows(NamedTuple):
    """What one scan reads of the search index: (band, west, east) stretches, within south–north latitudes."""

    ranges: list[tuple[int, float, float]]
    south: float = -90.0
    north: float = 90.0


def reach_by_band(origin: geo.Point, miles: float, within: tuple[int, int] | None = None) -> dict[int, float]:
    """Return, for each latitude band (directory.geo.latitude_band) that the circle of `miles` around `origin`
    reaches, the half-width in degrees of longitude, around the origin's, of the stretch of the band it covers
    (WHOLE_BAND: all of it). Every point of the band within the circle lies in that stretch.

    On a sphere, the circle's east–west extent at latitude φ is acos((cos θ − sin φ0 sin φ) / (cos φ0 cos φ));
    it grows from the circle's southern edge to its widest, at asin(sin φ0 / cos θ) (where meridians touch
    it), and shrinks again, or keeps growing to a pole inside the circle. So a band's widest stretch is at one
    of its edges or there. The angle is enlarged a little and the widths padded by SLACK_DEGREES, so that
    rounding never leaves a point out; exact distances are measured after. With `within` (the first and last
    band), only the bands in that range.

    Neighbouring bands share an edge, so each edge's width is computed once: a widening from Guam asked for
    ~3,600 widths a search, 39% of its CPU, when each band computed both its edges (BENCHMARKS.md, T3).
    """
    theta = miles * RADIANS_PER_MILE * (1 + 1e-9) + 1e-12
    latitude = origin[0]
    theta_degrees = math.degrees(theta)
    south, north = max(latitude - theta_degrees, -90.0), min(latitude + theta_degrees, 90.0)
    first, last = geo.latitude_band(south), geo.latitude_band(north)
    if within is not None:
        first, last = max(first, within[0]), min(last, within[1])
    bands = range(first, last + 1)
    sin0, cos0, cos_theta = math.sin(math.radians(latitude)), math.cos(math.radians(latitude)), math.cos(theta)
    if theta >= math.pi / 2 or cos0 < 1e-9:  # half the earth or more (or a pole): whole bands, simply
        return dict.fromkeys(bands, WHOLE_BAND)
    widest = math.degrees(math.asin(sin0 / cos_theta)) if abs(sin0) < cos_theta else None

    def half_width(phi: float) -> float:
        cos_phi = math.cos(math.radians(phi))
        if cos_phi < 1e-9:
            return WHOLE_BAND
        extent = (cos_theta - sin0 * math.sin(math.radians(phi))) / (cos0 * cos_phi)
        if extent <= -1:
            return WHOLE_BAND
        return min(math.degrees(math.acos(min(extent, 1.0))) + SLACK_DEGREES, WHOLE_BAND)

    if not bands:
        return {}
    # Band b spans max(b / BANDS_PER_DEGREE, south) to min((b + 1) / BANDS_PER_DEGREE, north): its high edge is
    # the next band's low one (the same float), so edges[i] and edges[i + 1] bound bands[i].
    edges = [max(band / geo.BANDS_PER_DEGREE, south) for band in bands]
    edges.append(min((last + 1) / geo.BANDS_PER_DEGREE, north))
    widths = [half_width(phi) for phi in edges]
    reach = {band: max(widths[i], widths[i + 1]) for i, band in enumerate(bands)}
    if widest is not None:
        band = geo.latitude_band(widest)
        if band in reach and edges[band - first] < widest < edges[band - first + 1]:
            reach[band] = max(reach[band], half_width(widest))
    return reach


def longitude_ranges(center: float, inner: float | None, outer: float) -> list[tuple[float, float]]:
    """Return the longitude ranges (west ≤ east, within ±180°) from `inner` to `outer` degrees either side of
    `center` (from the center itself when `inner` is None), split where they cross the antimeridian."""
    if inner is not None and inner >= outer:
        return []
    if outer >= WHOLE_BAND and inner is None:
        return [(-180.0, 180.0)]
    if inner is None:
        spans = [(center - outer, center + outer)]
    else:
        spans = [(center - outer, center - inner), (center + inner, center + outer)]
    ranges = []
    for west, east in spans:  # west lies within -360..360: one turn at most brings it within ±180
        if west < -180.0:
            west, east = west + 360.0, east + 360.0
        elif west > 180.0:
            west, east = west - 360.0, east - 360.0
        ranges += [(west, 180.0), (-180.0, east - 360.0)] if east > 180.0 else [(west, east)]
    return ranges


def circle_windows(origin: geo.Point, miles: float) -> Windows:
    """The stretches of the index within `miles` of `origin`: each band's own width of the circle."""
    reach = reach_by_band(origin, miles)
    theta_degrees = math.degrees(miles * RADIANS_PER_MILE * (1 + 1e-9) + 1e-12)
    ranges = [
        (band, west, east)
        for band, half_width in reach.items()
        for west, east in longitude_ranges(origin[1], None, half_width)
    ]
    return Windows(ranges, max(origin[0] - theta_degrees, -90.0), min(origin[0] + theta_degrees, 90.0))


# --- Candidates from the search index ----------------------------------------------------------------


class Near(NamedTuple):
    """A specialist's nearest indexed practice, as the scan finds it."""

    exact_miles: float
    practice_id: int
    last_name_key: str  # casefolded
    first_name_key: str
    static: float | None  # the weighted sum of the static part-scores; None when they have aged
    entry_id: int


def scan(
    restrict, origin: ZipCode, windows: "Windows", today, weights, min_mis_fusions, insurance=None, *, limit=None
) -> dict[int, Near]:
    """Return each specialist's nearest indexed practice among the rows in `windows`, one query; with `limit`,
    only practices within that many miles.

    Reads the index alone (a covering index: no table rows, no join) unless `restrict` (a Specialist queryset:
    the FilterSet's filters) narrows the specialists; aged rows come back without their static sum (None), to
    be recomputed.
    """
    if not windows.ranges:
        return {}
    try:
        sql, params = scan_query(today, weights, windows, min_mis_fusions, restrict, insurance)
    except EmptyResultSet:  # e.g. the FilterSet's queryset is pk__in=[]
        return {}
    rows = fetch_all(SearchEntry.objects.db, sql, params)
    miles_to = geo.distance_from(origin.point)
    limit = math.inf if limit is None else limit
    nearest: dict[int, Near] = {}
    for entry_id, pk, practice_id, latitude, longitude, last, first, static in rows:
        miles = miles_to((latitude, longitude))
        if miles > limit:
            continue
        found = nearest.get(pk)
        if found is None or miles < found[0] or (miles == found[0] and practice_id < found[1]):
            nearest[pk] = (miles, practice_id, last, first, static, entry_id)  # a Near, as a plain tuple: thousands
    return nearest


RINGS = 8  # of equal area (see circle_query); more rings cut more rows but cost more than they save (below)
EDGE_MILES = 0.01  # margin of the database's classification: far more than any rounding of the dot product
ROUNDING_MILES = 0.05  # a score's distance is rounded to 0.1 mile
SCORE_ROUNDING = 0.1 + 1e-6  # two raw totals further apart than this round apart (to 0.1)


COUNT_IN_DATABASE_MILES = 50  # from this radius on, the database counts the circle (see candidates())
IN_MEMORY, IN_DATABASE, BY_ROW = WAYS = ("memory", "database", "rows")  # candidates()' ways


def candidates(
    restrict, origin, radius_miles, today, weights, sort, top, min_mis_fusions, insurance, *, way=None
) -> tuple[dict[int, Near], int]:
    """Return the specialists within the radius that rank() must score, and how many others are within it.

    Three ways to the same page and count (tests/referral/test_matching_circle.py runs each on the same fields),
    `way` or the first that applies:
    - IN_MEMORY: this process's copy of the index (referral.resident) counts and cuts (scan_resident), unless
      the FilterSet or an insurance narrows the search (they need the directory's tables) or
      SIJ_SEARCH_IN_MEMORY is off;
    - IN_DATABASE, for a circle of COUNT_IN_DATABASE_MILES or more: the database counts and cuts (scan_circle);
    - BY_ROW: every row of the circle comes back and is measured here (scan), which is cheaper for a small
      circle than the counting query, which costs the database more to plan and run even when it has few rows
      to read (BENCHMARKS.md, "Search at stress scale: the database counts the circle").
    """
    database = SearchEntry.objects.db
    if way is None and restrict is None and insurance is None and resident.enabled():
        way = IN_MEMORY
    if way == IN_MEMORY:
        copy = resident.current(database)
        if copy is not None:
            return scan_resident(copy, origin, radius_miles, today, weights, sort, top, min_mis_fusions)
        way = None  # no stamp yet (a database flushed since its migration): until the index is next written
    if way is None:
        counting = radius_miles >= COUNT_IN_DATABASE_MILES and can_count_in_database(database)
        way = IN_DATABASE if counting else BY_ROW
    if way == IN_DATABASE:
        return scan_circle(restrict, origin, radius_miles, today, weights, sort, top, min_mis_fusions, insurance)
    windows = circle_windows(origin.point, radius_miles)
    return scan(restrict, origin, windows, today, weights, min_mis_fusions, insurance, limit=radius_miles), 0


def can_count_in_database(alias: str) -> bool:
    """Whether this database runs circle_query(): its `MATERIALIZED` CTEs need SQLite 3.35 (2021) or newer, and
    Django 5.2 still runs on SQLite 3.31 (e.g. Ubuntu 20.04's). PostgreSQL has them from 12, below Django's
    minimum. An older SQLite takes the per-row path: the same page, a little slower for large circles."""
    connection = connections[alias]
    return connection.vendor != "sqlite" or connection.Database.sqlite_version_info >= (3, 35)


def scan_circle(
    restrict, origin: ZipCode, radius_miles: float, today, weights, sort: str, top: int, min_mis_fusions, insurance
) -> tuple[dict[int, Near], int]:
    """Return the nearest indexed practice within the radius of each specialist who may make the `top` in this
    order (or must be measured to know), and how many others are surely within it (counted by the database).

    One query (circle_query): the database counts the specialists surely within the radius and returns only
    the rows of those that may make the top, those near the edge and those whose index rows have aged; the
    exact distances, the scores and the order are then computed here as for every row (rank()).
    """
    windows = circle_windows(origin.point, radius_miles)
    if not windows.ranges:
        return {}, 0
    try:
        sql, params = circle_query(
            origin, radius_miles, today, weights, sort, top, windows, min_mis_fusions, restrict, insurance
        )
    except EmptyResultSet:  # e.g. the FilterSet's queryset is pk__in=[]
        return {}, 0
    rows = fetch_all(SearchEntry.objects.db, sql, params)
    miles_to = geo.distance_from(origin.point)
    nearest: dict[int, Near] = {}
    sure = set()
    for entry_id, pk, practice_id, latitude, longitude, last, first, static, surely_within, _counted in rows:
        if surely_within:
            sure.add(pk)
        miles = miles_to((latitude, longitude))
        if miles > radius_miles:
            continue
        found = nearest.get(pk)
        if found is None or miles < found[0] or (miles == found[0] and practice_id < found[1]):
            nearest[pk] = (miles, practice_id, last, first, static, entry_id)  # a Near, as a plain tuple
    return nearest, (rows[0][9] - len(sure) if rows else 0)


def f64(value: float) -> pa.Scalar:
    """A number for pyarrow.compute: given a Python float, each call spends ~70 µs trying to import dateutil
    (pyarrow 26's conversion of Python values), 20 times a kernel's work on a circle's rows."""
    return pa.scalar(float(value), pa.float64())


NO = pa.scalar(False)


MEASURE_ALL_UP_TO = 400  # rows in a circle: up to this many, scan_resident() measures them all (see there)


def scan_resident(
    copy: resident.Copy,
    origin: ZipCode,
    radius_miles: float,
    today,
    weights,
    sort: str,
    top: int,
    min_mis_fusions,
    *,
    measure_all_up_to: int = MEASURE_ALL_UP_TO,
) -> tuple[dict[int, Near], int]:
    """scan_circle() on this process's copy of the index: circle_query()'s counting and cut, column by column
    (cut_to_the_page), or for a circle of at most `measure_all_up_to` rows, scan()'s: every row measured here.
    The counting's fixed cost (~25 more pyarrow calls, ~1.2 ms) is more than measuring a few hundred rows.

    The dot products and static sums are the same additions and multiplications in the same order as the SQL
    (IEEE doubles, each operation rounded alike), so a static sum is the same to the last bit as the database's;
    the classification's margins (EDGE_MILES, Bounds.margin) cover any other rounding. The rows of the circle lie
    in one slice of the copy (ordered by latitude); only that slice is computed on.
    """
    bounds = circle_bounds(radius_miles, weights, sort)
    reach = math.degrees((radius_miles + EDGE_MILES) * RADIANS_PER_MILE) + SLACK_DEGREES
    rows = copy.within_latitudes(origin.point[0] - reach, origin.point[0] + reach)
    x, y, z = geo.unit_vector(origin.point)
    dot = pc.add(pc.add(pc.multiply(rows["x"], f64(x)), pc.multiply(rows["y"], f64(y))), pc.multiply(rows["z"], f64(z)))
    keep = pc.greater_equal(dot, f64(bounds.within_reach))
    valid = pc.greater(rows["valid_until"], pa.scalar(today, pa.date32()))
    if min_mis_fusions:  # aged rows are re-checked after recomputing (rank())
        enough = pc.fill_null(
            pc.greater_equal(rows["past_year_mis_fusions"], pa.scalar(min_mis_fusions, pa.int64())), NO
        )
        keep = pc.and_(keep, pc.or_(enough, pc.invert(valid)))
    rows, dot, valid = rows.filter(keep), dot.filter(keep), valid.filter(keep)
    if not len(rows):
        return {}, 0
    static = None
    for criterion in STATIC_CRITERIA:  # left to right, as ranking.static_sum() and the SQL add
        term = pc.multiply(rows[criterion], f64(weights[criterion]))
        static = term if static is None else pc.add(static, term)
    static = pc.if_else(valid, static, pa.scalar(None, pa.float64()))
    counted = 0
    if len(rows) > measure_all_up_to:
        rows, static, counted = cut_to_the_page(rows, dot, static, bounds, top)
    miles_to = geo.distance_from(origin.point)
    nearest: dict[int, Near] = {}
    columns = [rows[name].to_pylist() for name in ("id", "specialist", "practice", "latitude", "longitude")]
    columns += [rows[name].to_pylist() for name in ("last_name_key", "first_name_key")] + [static.to_pylist()]
    for entry_id, pk, practice_id, latitude, longitude, last_name, first_name, row_static in zip(*columns, strict=True):
        miles = miles_to((latitude, longitude))
        if miles > radius_miles:
            continue
        found = nearest.get(pk)
        if found is None or miles < found[0] or (miles == found[0] and practice_id < found[1]):
            nearest[pk] = (miles, practice_id, last_name, first_name, row_static, entry_id)  # a Near, as a tuple
    return nearest, counted


def cut_to_the_page(rows: pa.Table, dot, static, bounds: "Bounds", top: int) -> tuple[pa.Table, pa.Array, int]:
    """circle_query()'s counting and cut on a circle's rows (with their dot products and static sums): return the
    rows of the specialists who may make the `top` or must be measured to know, their static sums, and how many
    others are surely within the radius."""
    groups = (
        pa.table({"pk": rows["specialist"], "best": dot, "smin": pc.fill_null(static, f64(-1e308)), "smax": static})
        .group_by("pk", use_threads=False)
        .aggregate([("best", "max"), ("smin", "min"), ("smax", "max")])
    )
    pk, best, smin, smax = (groups[name] for name in ("pk", "best_max", "smin_min", "smax_max"))
    sure = pc.and_(pc.greater(smin, f64(-1e307)), pc.greater_equal(best, f64(bounds.surely_within)))
    ring = pa.array([0] * len(groups), pa.int8())
    for cosine in bounds.cosines:  # the ring j the nearest practice falls in: how many inner edges lie nearer
        ring = pc.add(ring, pc.cast(pc.less(best, f64(cosine)), pa.int8()))
    low, high = (pa.array(values, pa.float64()).take(ring) for values in (bounds.low, bounds.high))
    if bounds.by_score:
        low, high = pc.add(smin, low), pc.add(smax, high)
    sure_lows = low.filter(sure)
    # The top-th best worst case among the sure (top_k_unstable gives the indices of the `top` largest).
    last = pc.min(sure_lows.take(pc.top_k_unstable(sure_lows, top))).as_py() if len(sure_lows) >= top else -1e308
    cannot = pc.and_(sure, pc.fill_null(pc.less(high, f64(last - bounds.margin)), NO))
    counted = pc.sum(pc.cast(cannot, pa.int64())).as_py() or 0
    shown = pc.is_in(rows["specialist"], value_set=pk.filter(pc.invert(cannot)).combine_chunks())
    rows, static = rows.filter(shown), static.filter(shown)
    return rows, static, counted


def rings(radius_miles: float) -> tuple[list[float], list[tuple[float, float]]]:
    """Return the cosines of the angles at the inner edges of RINGS rings from the centre to just past the
    radius (the first ring's, 1, left out), and each ring's (nearest, farthest) distance in miles, widened by
    EDGE_MILES. The rings are of equal area (radius · √(j / RINGS)): as many rows in each, on even ground."""
    reach = min(radius_miles + EDGE_MILES, math.pi / RADIANS_PER_MILE)
    edges = [reach * math.sqrt(j / RINGS) for j in range(RINGS + 1)]
    cosines = [math.cos(edge * RADIANS_PER_MILE) for edge in edges[1:-1]]
    bounds = [(max(edges[j] - EDGE_MILES, 0.0), edges[j + 1] + EDGE_MILES) for j in range(RINGS)]
    return cosines, bounds


# RINGS measured (SQLite, 100k published, scan_circle CPU ms, medians of 15, three alternations): Chicago 10 mi
# 3.0–3.1 with 64 rings vs 1.6–2.6 with 8; Atlanta 10 mi 2.8–4.0 vs 1.9–3.1; New York 100 mi 35–45 vs 31–43
# (151 rows returned instead of 65): the statement's size (two CASE trees) costs more than the rows it saves.


def ring_value(column: str, cosines: list[float], values: list[float], low: int = 0, high: int | None = None) -> str:
    """Return SQL giving values[j] for the ring j that a dot product `column` falls in: a binary tree of CASE,
    log2(RINGS) comparisons (a flat CASE would make up to RINGS per specialist)."""
    high = len(values) if high is None else high
    if high - low == 1:
        return repr(values[low])
    middle = (low + high) // 2
    nearer, farther = (
        ring_value(column, cosines, values, low, middle),
        ring_value(column, cosines, values, middle, high),
    )
    return f"CASE WHEN {column} >= {cosines[middle - 1]!r} THEN {nearer} ELSE {farther} END"


class Bounds(NamedTuple):
    """What the circle's counting (circle_query, scan_resident) needs to know of a radius, a sort and weights."""

    cosines: list[float]  # rings(): the cosines at the rings' inner edges
    low: list[float]  # by ring: the worst a specialist there can do (added to the smallest static sum by score)
    high: list[float]  # and the best (added to the largest)
    by_score: bool  # False: sorting by distance, low and high are minus the ring's farthest and nearest miles
    surely_within: float  # a dot product at least this: nearer than the radius less EDGE_MILES
    within_reach: float  # and this: nearer than the radius plus EDGE_MILES
    margin: float  # what rounding can make up: one that falls short of the cut by more cannot make the page


def circle_bounds(radius_miles: float, weights, sort: str) -> Bounds:
    """The rings (rings()) of a circle and what a specialist in each can score at worst and best."""
    cosines, edges = rings(radius_miles)
    inner = radius_miles - EDGE_MILES
    surely_within = math.cos(inner * RADIANS_PER_MILE) if 0 < inner * RADIANS_PER_MILE < math.pi else 2.0
    outer = (radius_miles + EDGE_MILES) * RADIANS_PER_MILE
    within_reach = math.cos(outer) if outer < math.pi else -2.0
    if sort == "best":
        weight = float(weights[ranking.DISTANCE])
        worst = [weight * ranking.distance_part(far + ROUNDING_MILES) for _near, far in edges]
        best = [weight * ranking.distance_part(max(near - ROUNDING_MILES, 0.0)) for near, _far in edges]
        # The weights are never all 0 (ranking.base_weights): the margin is never 0.
        margin = SCORE_ROUNDING * sum(weights[criterion] for criterion in ranking.CRITERIA) / 100 + 1e-9
        return Bounds(cosines, worst, best, True, surely_within, within_reach, margin)
    # the nearer the better
    farthest, nearest = [-far for _near, far in edges], [-near for near, _far in edges]
    return Bounds(cosines, farthest, nearest, False, surely_within, within_reach, 2 * ROUNDING_MILES + 1e-6)


def circle_query(
    origin: ZipCode, radius_miles, today, weights, sort, top, windows, min_mis_fusions, restrict, insurance
) -> tuple[str, list]:
    """Return the SQL and parameters of the circle's query.

    scan_query()'s rows with each one's dot product with the origin (cosine of the angle between them: the
    database computes it by additions and multiplications only, identical on both) are grouped by specialist:
    the largest dot product is the nearest practice, known to a ring (rings()). A specialist is *surely within*
    the radius when that practice is nearer than the radius less EDGE_MILES and their index rows are current;
    those are counted. Each one's score lies between the totals at its ring's outer and inner edges (the
    distance rounded as the score rounds it, ±ROUNDING_MILES), or when sorting by distance, its distance
    between the ring's edges. Any whose best possible total (or nearest possible distance) falls short, by
    more than rounding can make up, of the `top`-th best worst-case one cannot make the page and is not
    returned. Returned, with every row nearer than the radius plus EDGE_MILES: the others, the specialists near
    the edge (measured here), and those with aged rows (recomputed): (id, specialist, practice, latitude,
    longitude, last name key, first name key, static sum, surely within, how many are surely within).
    """
    bounds = circle_bounds(radius_miles, weights, sort)
    cosines, within_reach = bounds.cosines, bounds.within_reach
    low, high = (ring_value("g.best", cosines, values) for values in (bounds.low, bounds.high))
    if bounds.by_score:
        low, high = f"g.smin + {low}", f"g.smax + {high}"
    toward = geo.unit_vector(origin.point)
    rows, params = scan_query(today, weights, windows, min_mis_fusions, restrict, insurance, toward=toward)
    database = SearchEntry.objects.db
    column = index_columns(database)
    today = connections[database].ops.adapt_datefield_value(today)
    static = " + ".join(f"e.{column[criterion]} * %s" for criterion in STATIC_CRITERIA)
    static_params = [today, *(float(weights[criterion]) for criterion in STATIC_CRITERIA)]
    dot = " + ".join(f"e.{column[axis]} * %s" for axis in "xyz")
    where, where_params = row_filters(column, today, min_mis_fusions, restrict, insurance)
    # Constants are written as numbers (PostgreSQL compares a numeric literal with a float column as a float):
    # SQLite evaluates a CAST again for every row.
    names = ("id", "specialist", "practice", "latitude", "longitude", "last_name_key", "first_name_key")
    sql = (
        f"WITH r (pk, s, dot) AS MATERIALIZED ({rows}),"
        # An aged row's static sum counts as -1e308 in the minimum: the specialist is then not sure (one
        # aggregate fewer than a count of them; each costs SQLite ~0.2 µs a row).
        f" g AS (SELECT pk, MAX(dot) AS best, MIN(COALESCE(s, -1e308)) AS smin, MAX(s) AS smax"
        f" FROM r WHERE dot >= {within_reach!r} GROUP BY pk),"
        f" b AS (SELECT pk, smin > -1e307 AND best >= {bounds.surely_within!r} AS sure, {low} AS low, {high} AS high"
        f" FROM g),"
        # One row each, joined (as a scalar subquery in the WHERE clause, SQLite may run it again for every row).
        f" t (cut) AS MATERIALIZED (SELECT COALESCE(MAX(low), -1e308) - {bounds.margin!r} FROM"
        f" (SELECT low FROM b WHERE sure ORDER BY low DESC LIMIT 1 OFFSET {int(top) - 1}) AS last),"
        f" c (counted) AS MATERIALIZED (SELECT COUNT(*) FROM b WHERE sure),"
        f" p AS MATERIALIZED (SELECT b.pk, b.sure FROM b CROSS JOIN t WHERE NOT (b.sure AND b.high < t.cut))"
        # IN, not a join: given thousands of rows in b, SQLite builds a Bloom filter for a join by reading the
        # whole index (240 ms at 130k rows).
        f" SELECT {', '.join(f'e.{column[name]}' for name in names)},"
        f" CASE WHEN e.{column['valid_until']} > %s THEN {static} END,"
        f" e.{column['specialist']} IN (SELECT pk FROM p WHERE sure), (SELECT counted FROM c)"
        f" FROM {column['table']} AS e"
        f" WHERE e.{column['specialist']} IN (SELECT pk FROM p) AND {dot} >= {within_reach!r}"
        + "".join(f" AND {condition}" for condition in where)
    )
    return sql, [*params, *static_params, *(float(value) for value in toward), *where_params]


def scan_query(
    today,
    weights,
    windows: "Windows",
    min_mis_fusions,
    restrict,
    insurance: Insurance | None = None,
    *,
    toward: tuple[float, float, float] | None = None,
) -> tuple[str, list]:
    """Return the scan's SQL and parameters, written out: the ORM spends longer compiling it than the database
    takes to run it (BENCHMARKS.md, "Search").

    The stretches are VALUES lists joined on (band, longitude): each is one range of the covering index, read
    index-only on both databases. The static sum adds ranking.static_sum()'s terms in its order (SQL adds left
    to right, like Python's sum), so a score from it is the same to the last bit. With `toward` (an origin's
    directory.geo.unit_vector), the rows are (id, specialist, static sum, dot product with it): circle_query's.
    """
    database = SearchEntry.objects.db
    column = index_columns(database)
    today = connections[database].ops.adapt_datefield_value(today)
    static = " + ".join(f"e.{column[criterion]} * %s" for criterion in STATIC_CRITERIA)
    static = f"CASE WHEN e.{column['valid_until']} > %s THEN {static} END"
    head_params = [today, *(float(weights[criterion]) for criterion in STATIC_CRITERIA)]
    if toward is None:
        names = ("id", "specialist", "practice", "latitude", "longitude", "last_name_key", "first_name_key")
        head = f"SELECT {', '.join(f'e.{column[name]}' for name in names)}, {static} FROM (VALUES "
    else:
        dot = " + ".join(f"e.{column[axis]} * %s" for axis in "xyz")
        head = f"SELECT e.{column['specialist']}, {static}, {dot} FROM (VALUES "
        head_params += [float(value) for value in toward]
    join = (
        f") AS w JOIN {column['table']} AS e"
        f" ON e.{column['band']} = w.column1 AND e.{column['longitude']} BETWEEN w.column2 AND w.column3 WHERE "
    )
    where, where_params = row_filters(column, today, min_mis_fusions, restrict, insurance)
    where, where_params = (
        [f"e.{column['latitude']} BETWEEN %s AND %s", *where],
        [windows.south, windows.north, *where_params],
    )
    # The stretches are written into the SQL as numbers: a widening step can have hundreds, and psycopg parses a
    # query's placeholders in Python (uncached for long queries), which took longer than the query. They are our
    # own ints and floats (repr round-trips); a float's last digit as the database parses it cannot matter, as
    # every stretch extends SLACK_DEGREES past the circle. The first row's casts type the columns (PostgreSQL
    # reads 1.5 as numeric). At most STRETCHES_PER_SELECT a VALUES list, joined by UNION ALL: given ~200, SQLite
    # builds a Bloom filter on the index by reading all of it (200 ms at 130k rows) instead of 200 seeks.
    cast = "CAST({!r} AS DOUBLE PRECISION)"
    selects, params = [], []
    for start in range(0, len(windows.ranges), STRETCHES_PER_SELECT):
        (band, west, east), *rest = windows.ranges[start : start + STRETCHES_PER_SELECT]
        values = [f"({int(band)}, {cast.format(float(west))}, {cast.format(float(east))})"]
        values += [f"({int(band)}, {float(west)!r}, {float(east)!r})" for band, west, east in rest]
        selects.append(head + ", ".join(values) + join + " AND ".join(where))
        params += head_params + where_params
    return " UNION ALL ".join(selects), params


def row_filters(column, today, min_mis_fusions, restrict, insurance) -> tuple[list[str], list]:
    """Return the conditions on an index row `e` that the filters make, and their parameters."""
    where, params = [], []
    if min_mis_fusions:  # aged rows are re-checked after recomputing
        where.append(f"(e.{column['past_year_mis_fusions']} >= %s OR e.{column['valid_until']} <= %s)")
        params += [min_mis_fusions, today]
    if restrict is not None:
        subquery, subquery_params = restrict.published().values("pk").query.sql_with_params()
        where.append(f"e.{column['specialist']} IN ({subquery})")
        params += subquery_params
    if insurance is not None:  # only the practices that accept it: the card then shows one that does
        subquery, subquery_params = Practice.objects.accepting(insurance).values("pk").query.sql_with_params()
        where.append(f"e.{column['practice']} IN ({subquery})")
        params += subquery_params
    return where, params


@functools.cache
def index_columns(database: str) -> dict[str, str]:
    """The search index's quoted table ("table") and column names (by field name)."""
    quote = connections[database].ops.quote_name
    columns = {field.name: quote(field.column) for field in SearchEntry._meta.concrete_fields}
    return columns | {"table": quote(SearchEntry._meta.db_table)}


def rank(
    nearby: dict[int, Near], weights, sort: str, today, min_mis_fusions, top: int, counted: int = 0
) -> tuple[int, list[Ranked]]:
    """Score the candidates; return how many qualify (with `counted` others, known to and unable to make the
    top) and the `top` of them in result order (best first, or nearest first). Only those are sorted: a page is
    a few dozen of up to a few thousand candidates.

    Aged part-scores are recomputed from the directory (rare: the index is refreshed daily); a candidate
    whose recomputed count no longer meets `min_mis_fusions` drops out.
    """
    aged = [pk for pk, near in nearby.items() if near[4] is None]
    if aged:
        nearby = dict(nearby)
        specialists = profile_queryset().in_bulk(aged)
        for pk in aged:
            candidate = candidate_from_specialist(specialists[pk], round(nearby[pk][0], 1))
            if min_mis_fusions and (past_year_mis_fusions(candidate, today) or 0) < min_mis_fusions:
                del nearby[pk]
            else:
                static = ranking.static_sum(ranking.static_parts(candidate, today), weights)
                nearby[pk] = Near._make(nearby[pk])._replace(static=static)
    total, distance_part = ranking.scorer(weights), ranking.distance_part
    parts: dict[float, float] = {}  # distance part by rounded distance: a search has a few hundred distinct ones
    scored = []
    for pk, (miles, _practice_id, last, first, static, entry_id) in nearby.items():
        distance = round(miles, 1)
        part = parts.get(distance)
        if part is None:
            part = parts[distance] = distance_part(distance)
        scored.append((total(static, part), distance, last, first, pk, entry_id))
    count = len(scored) + counted
    if len(scored) > top:  # only rows that can make the top: as good as the top-th on the order's first key
        if sort == "best":
            cut = heapq.nlargest(top, [row[0] for row in scored])[-1]
            scored = [row for row in scored if row[0] >= cut]
        else:
            cut = heapq.nsmallest(top, [row[1] for row in scored])[-1]
            scored = [row for row in scored if row[1] <= cut]
    return count, ranking.in_result_order(scored, sort=sort, top=top)


def past_year_mis_fusions(candidate: Candidate, today: datetime.date) -> int | None:
    """Return the past-year MIS SI-joint fusion count (None when there is none or it was suppressed)."""
    volume = select_past_year_volume(candidate.volumes, Procedure.MIS_SI_FUSION, today=today)
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
    insurance: Insurance | None = None,
) -> SearchResult:
    """Return the published specialists within `radius_miles` of `origin`, ranked for the situation.

    `queryset` is an optional pre-filtered Specialist queryset (the FilterSet's); it is always restricted to
    published profiles. `min_mis_fusions` keeps only specialists whose past-year count of minimally invasive
    SI-joint fusions is at least that (a suppressed count does not qualify: it is not known). `insurance` keeps
    only practices whose confirmed list includes it; each specialist is then measured to the nearest of those.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}")
    page, page_size = max(int(page), 1), max(int(page_size), 1)
    restrict = queryset if queryset is not None and queryset.query.has_filters() else None
    today = timezone.localdate()
    weights = ranking.weights_for(situation)

    start = (page - 1) * page_size
    top = start + page_size
    nearby, counted = candidates(restrict, origin, radius_miles, today, weights, sort, top, min_mis_fusions, insurance)
    count, ranked = rank(nearby, weights, sort, today, min_mis_fusions, top, counted)
    on_page = ranked[start:]
    beyond = (
        find_beyond(restrict, origin, radius_miles, weights, today, min_mis_fusions, insurance)
        if count < MIN_RESULTS
        else []
    )

    matches = build_matches(on_page + beyond, weights, today)
    return SearchResult(
        origin=origin,
        radius_miles=radius_miles,
        count=count,
        matches=matches[: len(on_page)],
        beyond_radius=matches[len(on_page) :],
        page=page,
        page_size=page_size,
        has_next=start + page_size < count,
    )


def find_beyond(
    restrict, origin: ZipCode, radius_miles: float, weights, today, min_mis_fusions, insurance=None
) -> list[Ranked]:
    """Return the nearest (up to BEYOND_LIMIT) candidates outside the radius, nearest first.

    The search widens in rings, its reach growing by WIDENING a step: each step reads only the stretches of
    each latitude band (reach_by_band) that the previous ones did not, so no step reads the whole index or
    reads again what an earlier one read (but at a stretch's edge). A candidate's nearest practice is certain
    once it lies within the reach (every unread row is farther); the search stops when BEYOND_LIMIT certain
    ones are found and the last of them is nearer, after rounding, than anything unread can be — or when the
    whole earth has been read.
    """
    low, high = indexed_bands()
    if low is None:
        return []
    reach = max(radius_miles * 2, radius_miles + 50)
    read: dict[int, float] = {}  # band -> half-width (degrees of longitude) read so far
    extents = None  # band -> its rows' westernmost and easternmost longitude, read once the steps grow large
    found: dict[int, Near] = {}
    center = origin.point[1]
    while True:
        widths = reach_by_band(origin.point, reach, (low, high))
        ranges = [
            (band, west, east)
            for band, half_width in widths.items()
            if read.get(band, 0.0) < half_width  # a band read wholly or as wide already adds nothing
            for west, east in longitude_ranges(center, read.get(band), half_width)
        ]
        if len(ranges) > CLIP_PAST:
            extents = extents or band_extents(range(low, high + 1))
            ranges = clip_to_extents(ranges, extents)
        for pk, near in scan(restrict, origin, Windows(ranges), today, weights, min_mis_fusions, insurance).items():
            known = found.get(pk)
            if known is None or near[:2] < known[:2]:
                found[pk] = near
        for band, half_width in widths.items():
            read[band] = max(half_width, read.get(band, 0.0))
        everything = reach * RADIANS_PER_MILE >= math.pi  # the circle covers the earth: every row has been read
        certain = {
            pk: near for pk, near in found.items() if radius_miles < near[0] and (everything or near[0] <= reach)
        }
        count, nearest = rank(certain, weights, "distance", today, min_mis_fusions, BEYOND_LIMIT)
        # Unread rows lie beyond `reach`: 0.2 mile more than the last one's rounded distance rounds farther.
        if everything or (count >= BEYOND_LIMIT and nearest[-1].distance_miles + 0.2 < reach):
            return nearest
        # Rows read past the reach (the stretches are rectangles) bound the answer: the BEYOND_LIMIT-th nearest
        # specialist is no farther than the BEYOND_LIMIT-th of those found, wherever their nearest practice is.
        # Reading to just past it (the area read grows with the square of the reach) or one growth step on.
        farther = heapq.nsmallest(BEYOND_LIMIT, (near[0] for near in found.values() if near[0] > radius_miles))
        bound = farther[-1] + 0.3 if len(farther) == BEYOND_LIMIT else math.inf
        reach = bound if reach < bound < reach * WIDENING else reach * WIDENING


def clip_to_extents(ranges: list[tuple[int, float, float]], extents: dict) -> list[tuple[int, float, float]]:
    """Return the stretches cut to the longitudes their band's index rows span (`extents`, band_extents()),
    leaving out those that miss them.

    A large widening step writes hundreds of stretches, and from a remote origin most of them cross ocean: from
    Guam, 480 stretches a step, of which a few dozen hold a row (BENCHMARKS.md, "Widening"). Each costs its
    SQL text, an index seek and, on PostgreSQL, planning. The extents of every indexed band cost one query of
    two seeks a band, read once a search (one query rather than one per step: on PostgreSQL each costs a round
    trip and its planning), so they are worth it only past a few dozen stretches (CLIP_PAST): an ordinary
    widening on the mainland reads a few stretches that all hold rows.
    A cut stretch still holds every row of the uncut one (whatever the filters, the extent is of all rows).
    """
    clipped = []
    for band, west, east in ranges:
        extent = extents[band]
        if extent is not None and west <= extent[1] and extent[0] <= east:
            clipped.append((band, max(west, extent[0]), min(east, extent[1])))
    return clipped


def band_extents(bands: Iterable[int]) -> dict[int, tuple[float, float] | None]:
    """Return, for each of these latitude bands, the westernmost and easternmost longitude of its index rows
    (None when it has none): one query, two reads of the covering index's (band, longitude) order per band."""
    column = index_columns(SearchEntry.objects.db)
    band, longitude, table = column["band"], column["longitude"], column["table"]
    end = f"(SELECT e.{longitude} FROM {table} AS e WHERE e.{band} = b.column1 ORDER BY e.{longitude} {{}} LIMIT 1)"
    values = ", ".join(f"({int(number)})" for number in bands)  # our own ints, written out as scan_query's are
    sql = f"SELECT b.column1, {end.format('ASC')}, {end.format('DESC')} FROM (VALUES {values}) AS b"
    with connections[SearchEntry.objects.db].cursor() as cursor:
        cursor.execute(sql)
        return {number: None if west is None else (west, east) for number, west, east in cursor.fetchall()}


def indexed_bands() -> tuple[int | None, int | None]:
    """Return the southernmost and northernmost latitude bands of the index (None, None when it is empty): a
    widening reads no stretch outside them (from Guam, that halves the stretches of its largest steps). Two
    reads of the covering index's ends."""
    column = index_columns(SearchEntry.objects.db)
    band, table = column["band"], column["table"]
    with connections[SearchEntry.objects.db].cursor() as cursor:
        cursor.execute(f"SELECT (SELECT MIN({band}) FROM {table}), (SELECT MAX({band}) FROM {table})")
        return cursor.fetchone()


def build_matches(scored: list[Ranked], weights, today) -> list[Match]:
    """Return Match objects for these candidates: one query when their index rows are current.

    The index row of each candidate's nearest practice brings the specialist, the practice, the part-scores
    and the reasons and key facts; only the distance is added here. Specialists gone from the published
    directory since the scan are left out.
    """
    if not scored:
        return []
    entries = SearchEntry.objects.select_related("specialist", "practice").in_bulk([s.carry for s in scored])
    found = [(s, entries[s.carry]) for s in scored if s.carry in entries]
    found = [(s, entry) for s, entry in found if entry.specialist.is_published]
    if len(found) < len(scored):  # refreshed since the scan, or a write that bypassed specialists_touched()
        missing = sorted({s.id for s in scored} - {s.id for s, _entry in found})
        logger.warning(
            "Search index changed or out of date for specialists %s (if this repeats: run "
            "manage.py refresh_search_index)",
            missing,
        )
    # Aged part-scores, and rows written before the active language had text (older rows), are recomputed.
    language = translation.get_language()
    aged = {
        entry.specialist_id for _s, entry in found if entry.valid_until <= today or language not in entry.explanation
    }
    fresh = profile_queryset().in_bulk(aged) if aged else {}  # rare: the index is refreshed daily
    matches = []
    for s, entry in found:
        if s.id in fresh:
            candidate = candidate_from_specialist(
                fresh[s.id], s.distance_miles, exact=entry.practice.has_exact_location
            )
            assessment = ranking.assess(candidate, weights, today=today)
            reasons, facts = assessment.reasons, ranking.key_facts(candidate, experience=assessment.experience)
        else:
            scores = {criterion: getattr(entry, criterion) for criterion in STATIC_CRITERIA}
            scores[ranking.DISTANCE] = ranking.distance_part(s.distance_miles)
            explained = entry.explanation[language]
            texts = {
                **explained["reasons"],
                ranking.DISTANCE: ranking.distance_reason(s.distance_miles, entry.practice.has_exact_location),
            }
            reasons, facts = ranking.reasons_in_order(scores, texts, weights), explained["facts"]
        matches.append(Match(entry.specialist, entry.practice, s.distance_miles, s.score, reasons, facts))
    prefetch_insurance([match.practice for match in matches])
    return matches


def prefetch_insurance(practices: list[Practice]) -> None:
    """Load the insurance the practices accept (the cards show it), in one query, into their prefetch caches.

    As prefetch_related_objects(practices, "insurance") would, in the related manager's order (Insurance's
    Meta ordering), without building a filtered queryset for each practice first: that took a third of a
    10-mile search's time (BENCHMARKS.md, "Search at stress scale").
    """
    accepted = {practice.pk: [] for practice in practices}
    through = Practice.insurance.through.objects.filter(practice_id__in=accepted).select_related("insurance")
    for row in through.order_by(*(f"insurance__{name}" for name in Insurance._meta.ordering), "insurance__pk"):
        accepted[row.practice_id].append(row.insurance)
    for practice in practices:
        set_prefetched(practice, "insurance", Insurance, accepted[practice.pk])
