"""The search's reach: latitude-band stretches for the radius, and the nearest-first widening beyond it.

The widening must return what a brute-force pass over every published specialist returns (the same specialists,
in the same order, at the same distances), from anywhere in the US and its territories, without ever reading
the whole index when there is enough to show.
"""

import datetime
import math

import pytest
from django.db import connection, transaction
from django.db.models import Max, Min
from geopy.distance import great_circle
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from directory import geo
from directory.models import ZipCode
from referral import matching, ranking
from referral.fastpath import fetch_all
from referral.matching import BEYOND_LIMIT, MIN_RESULTS, find_specialists, match_specialist, profile_queryset
from referral.models import SearchEntry
from tests.factories import PracticeFactory, SpecialistFactory

# Remote and far-flung ZIPs (territories, the Aleutians on both sides of the antimeridian's neighbourhood,
# islands) and a few on the mainland.
REMOTE = {
    "96910": "Hagatna, Guam",
    "96929": "Yigo, Guam",
    "96950": "Saipan, Northern Mariana Islands",
    "96799": "Pago Pago, American Samoa",
    "99546": "Adak, Aleutians",
    "99547": "Atka, Aleutians",
    "99660": "Saint Paul Island, Pribilofs",
    "99501": "Anchorage",
    "96813": "Honolulu",
    "96720": "Hilo",
    "00901": "San Juan, Puerto Rico",
    "00802": "Saint Thomas, Virgin Islands",
    "33040": "Key West",
    "98101": "Seattle",
    "94103": "San Francisco",
    "60611": "Chicago",
    "10001": "New York",
    "04609": "Bar Harbor",
}
ZIPS = sorted(REMOTE)


def specialist_in(*codes, **kwargs):
    practices = []
    for code in codes:
        zip_code = ZipCode.objects.get(code=code)
        practices.append(PracticeFactory(zip_code=code, city=zip_code.city, state=zip_code.state))
    return SpecialistFactory(practices=practices, **kwargs)


def brute_force(origin, radius_miles):
    """Every published specialist measured and ranked in Python: (ids within, the beyond-radius list)."""
    miles_to = geo.distance_from(origin.point)
    measured = []
    for specialist in profile_queryset():
        located = [miles_to(p.point) for p in specialist.practices.all() if p.point]
        if located:
            measured.append((min(located), match_specialist(specialist=specialist, origin=origin)))
    within = [m for miles, m in measured if miles <= radius_miles]
    if len(within) >= MIN_RESULTS:
        return len(within), []
    beyond = sorted(
        (m for miles, m in measured if miles > radius_miles),
        key=lambda m: (
            m.distance_miles,
            -m.score,
            m.specialist.last_name.casefold(),
            m.specialist.first_name.casefold(),
            m.specialist.pk,
        ),
    )
    return len(within), beyond[:BEYOND_LIMIT]


def summary(matches):
    return [(m.specialist.pk, m.practice.pk, m.distance_miles, m.score) for m in matches]


@pytest.mark.django_db
@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    places=st.lists(st.lists(st.sampled_from(ZIPS), min_size=1, max_size=2), min_size=0, max_size=12),
    names=st.lists(st.sampled_from(["Abbott", "Baker"]), min_size=12, max_size=12),
    origin_code=st.sampled_from(ZIPS),
    radius=st.sampled_from([10, 25, 50, 100, 250]),
)
def test_widening_returns_what_brute_force_returns(places, names, origin_code, radius):
    origin = ZipCode.objects.get(code=origin_code)
    with transaction.atomic():
        for codes, name in zip(places, names, strict=False):
            specialist_in(*codes, last_name=name, first_name="Ann")
        result = find_specialists(origin=origin, radius_miles=radius)
        count, beyond = brute_force(origin, radius)
        transaction.set_rollback(True)
    assert result.count == count
    assert summary(result.beyond_radius) == summary(beyond)


class IndexScans:
    """Records the search-index scans a block runs (as an execute wrapper: the SQL and its parameters), and apart
    from them the look-ups of band extents (matching.band_extents)."""

    def __init__(self):
        self.scans, self.extents = [], []

    def __call__(self, execute, sql, params, many, context):
        if SearchEntry._meta.db_table in sql and "VALUES" in sql:
            (self.extents if sql.startswith("SELECT b.column1") else self.scans).append((sql, list(params or [])))
        return execute(sql, params, many, context)

    def rows_read(self) -> set[int]:
        """The specialists whose index rows the scans read (each scan run again)."""
        return {row[1] for sql, params in self.scans for row in fetch_all(SearchEntry.objects.db, sql, params)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("origin_code", "near", "far"),
    [
        ("96910", ["96813", "96720"], ["10001", "60611", "00901"]),  # Guam: Hawaii is nearest, 3,800 miles away
        ("96799", ["96813", "96720"], ["10001", "04609"]),  # American Samoa
        ("99546", ["99501", "99660"], ["33040", "00802"]),  # Adak, in the Aleutians
    ],
)
def test_widening_from_a_remote_zip_reads_only_a_bounded_stretch(origin_code, near, far):
    nearby = [specialist_in(near[index % len(near)]) for index in range(BEYOND_LIMIT + 1)]
    distant = [specialist_in(code) for code in far]
    origin = ZipCode.objects.get(code=origin_code)
    scans = IndexScans()
    with connection.execute_wrapper(scans):
        result = find_specialists(origin=origin, radius_miles=50)
    assert len(scans.scans) >= 2  # the radius, then the widening
    for sql, _params in scans.scans:  # every one bounded: band stretches joined on the index
        assert " JOIN " in sql and "BETWEEN w.column2 AND w.column3" in sql
    for sql, _params in scans.extents:  # and each band's extent read from the ends of its index range
        assert sql.count("ORDER BY") == 2 and " JOIN " not in sql
    read = scans.rows_read()
    assert {s.pk for s in nearby} <= read
    assert not read & {s.pk for s in distant}  # the mainland and the far side were never read
    assert {m.specialist.pk for m in result.beyond_radius} <= {s.pk for s in nearby}
    assert len(result.beyond_radius) == BEYOND_LIMIT


@pytest.mark.django_db
@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stretches=st.lists(
        st.tuples(
            st.sampled_from(sorted({geo.latitude_band(float(lat)) for lat in (13.4, 19.7, 21.3, 51.9, 57.1, 40.7)})),
            st.floats(-180, 180),
            st.floats(0, 90),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_clipped_stretches_read_the_same_rows(stretches):
    """Cut to their bands' extents, stretches read exactly the rows they read uncut, and none is kept where its
    band has no rows."""
    ranges = [(band, west, min(west + width, 180.0)) for band, west, width in stretches]

    def rows(ranges):
        sql, params = matching.scan_query(
            datetime.date(2026, 1, 1), ranking.base_weights(), matching.Windows(ranges), None, None
        )
        return sorted(fetch_all(SearchEntry.objects.db, sql, params)) if ranges else []

    with transaction.atomic():
        for code in ("96813", "96720", "99546", "99660", "99501", "10001"):  # Hawaii, the Aleutians, AK, NY
            specialist_in(code)
        extents = matching.band_extents(sorted({band for band, _west, _east in ranges}))
        clipped = matching.clip_to_extents(ranges, extents)
        assert rows(clipped) == rows(ranges)
        for band, extent in extents.items():
            span = SearchEntry.objects.filter(band=band).aggregate(west=Min("longitude"), east=Max("longitude"))
            assert extent == (None if span["west"] is None else (span["west"], span["east"]))
        transaction.set_rollback(True)
    assert set(extents) == {band for band, _west, _east in ranges}
    assert extents.get(geo.latitude_band(13.4), None) is None  # Guam's band holds no one here
    for band, west, east in clipped:
        assert extents[band] is not None and extents[band][0] <= west <= east <= extents[band][1]


@pytest.mark.django_db
def test_widening_reads_everything_only_when_there_is_not_enough_anywhere():
    lonely = specialist_in("10001")
    result = find_specialists(origin=ZipCode.objects.get(code="96910"), radius_miles=25)
    assert [m.specialist.pk for m in result.beyond_radius] == [lonely.pk]
    assert result.beyond_radius[0].distance_miles > 7000


@pytest.mark.django_db
def test_a_radius_across_the_antimeridian_finds_the_other_side():
    # 51.5°N 178.9°E (a DPO ZIP's centroid) is ~180 miles from Adak at 176.6°W: the circle crosses ±180°.
    east_of_it = specialist_in("99546")
    origin = ZipCode(code="00000", latitude=51.5672, longitude=178.8775)
    result = find_specialists(origin=origin, radius_miles=250)
    assert [m.specialist.pk for m in result.matches] == [east_of_it.pk]
    assert 150 < result.matches[0].distance_miles < 250


# --- The geometry, without the database ---------------------------------------------------------------


def covered(windows: matching.Windows, point) -> bool:
    band = geo.latitude_band(point[0])
    return windows.south <= point[0] <= windows.north and any(
        b == band and west <= point[1] <= east for b, west, east in windows.ranges
    )


@hypothesis_settings(deadline=None)
@given(
    latitude=st.floats(-20, 75),
    longitude=st.floats(-180, 180),
    miles=st.floats(0.5, 13000),
    bearing=st.floats(0, 360),
    fraction=st.floats(0, 1),
)
def test_band_stretches_hold_every_point_of_the_circle(latitude, longitude, miles, bearing, fraction):
    origin = (latitude, longitude)
    target = great_circle(miles=miles * fraction).destination(origin, bearing)
    point = (target.latitude, target.longitude)
    if geo.distance_from(origin)(point) <= miles:
        assert covered(matching.circle_windows(origin, miles), point)


@hypothesis_settings(deadline=None)
@given(
    center=st.floats(-180, 180),
    inner=st.floats(0, 180),
    outer=st.floats(0, 180),
    longitude=st.floats(-180, 180),
)
def test_a_ring_of_longitudes_adds_exactly_what_the_inner_window_lacks(center, inner, outer, longitude):
    def inside(ranges):
        return any(west <= longitude <= east for west, east in ranges)

    def offset():  # the longitude's angle from the center, -180..180
        return (longitude - center + 180.0) % 360.0 - 180.0

    whole = matching.longitude_ranges(center, None, max(inner, outer))
    ring = matching.longitude_ranges(center, inner, outer)
    core = matching.longitude_ranges(center, None, inner)
    assert all(-180 <= west <= east <= 180 for west, east in whole + ring + core)
    if abs(abs(offset()) - inner) > 1e-9 and abs(abs(offset()) - max(inner, outer)) > 1e-9:  # not on an edge
        assert inside(whole) == (inside(ring) or inside(core))
        assert inside(whole) == (abs(offset()) <= max(inner, outer))


def test_a_hundred_mile_circle_reads_less_than_its_bounding_box():
    chicago = (41.8948, -87.6203)
    windows = matching.circle_windows(chicago, 100)
    box = geo.bounding_box(chicago, 100)
    assert [band for band, _w, _e in windows.ranges] == box.bands()
    widths = [east - west for _b, west, east in windows.ranges]
    assert max(widths) <= box.east - box.west
    assert sum(widths) < 0.8 * len(widths) * (box.east - box.west)  # the circle, not its corners
    assert math.isclose(
        max(widths), 2 * 100 / (geo.MILES_PER_DEGREE_LATITUDE * math.cos(math.radians(41.8948))), rel_tol=0.01
    )
