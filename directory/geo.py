"""Distance and bounding-box math on (latitude, longitude) points: pure functions, no ORM."""

import math
from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from geopy.distance import great_circle

Point = tuple[float, float]

GEOPY_EARTH_RADIUS_KM = 6371.009
EARTH_RADIUS_MILES = 6371.009 * 0.621371  # geopy's mean earth radius (km), in miles
MILES_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_MILES / 180
# Latitude bands of a quarter degree (~17 miles): an index on (band, longitude) lets a box query read its own
# stretch of each band instead of the whole width of the country between its north and south edges.
BANDS_PER_DEGREE = 4


@dataclass(frozen=True)
class BoundingBox:
    south: float
    west: float
    north: float
    east: float

    def contains(self, point: Point) -> bool:
        latitude, longitude = point
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east

    def bands(self) -> list[int]:
        """Return the latitude bands (see latitude_band) the box spans, south to north."""
        return list(range(latitude_band(self.south), latitude_band(self.north) + 1))


def latitude_band(latitude: float) -> int:
    return math.floor(latitude * BANDS_PER_DEGREE)


def distance_miles(a: Point, b: Point) -> float:
    """Return the great-circle distance between two points, in miles."""
    return great_circle(a, b).miles


def distance_from(origin: Point):
    """Return a function that gives the great-circle miles from `origin` to a point.

    The same formula and earth radius as geopy's great_circle (so the same numbers as distance_miles), without
    its per-call overhead: a search measures thousands of candidates.
    """
    sin_lat1, cos_lat1 = math.sin(math.radians(origin[0])), math.cos(math.radians(origin[0]))
    lng1 = math.radians(origin[1])
    sin, cos, sqrt, atan2, radians = math.sin, math.cos, math.sqrt, math.atan2, math.radians

    def miles_to(point: Point) -> float:
        lat2 = radians(point[0])
        sin_lat2, cos_lat2 = sin(lat2), cos(lat2)
        delta_lng = radians(point[1]) - lng1
        cos_delta_lng, sin_delta_lng = cos(delta_lng), sin(delta_lng)
        d = atan2(
            sqrt((cos_lat2 * sin_delta_lng) ** 2 + (cos_lat1 * sin_lat2 - sin_lat1 * cos_lat2 * cos_delta_lng) ** 2),
            sin_lat1 * sin_lat2 + cos_lat1 * cos_lat2 * cos_delta_lng,
        )
        return GEOPY_EARTH_RADIUS_KM * d / 1.609344

    return miles_to


def unit_vector(point: Point) -> tuple[float, float, float]:
    """Return the point on the unit sphere as (x, y, z): the search index stores it, so that the database can
    tell how far a row is from an origin by a dot product (additions and multiplications: the same to the bit on
    every database), cos(angle) = x·x₀ + y·y₀ + z·z₀."""
    latitude, longitude = math.radians(point[0]), math.radians(point[1])
    return math.cos(latitude) * math.cos(longitude), math.cos(latitude) * math.sin(longitude), math.sin(latitude)


def bounding_box(center: Point, radius_miles: float) -> BoundingBox:
    """Return a box that contains every point within `radius_miles` of `center`.

    The box may be a little larger than the circle (corners); callers filter by exact distance. It is
    clamped at the poles and at ±180° longitude, which no US location comes close to needing.
    """
    latitude, longitude = center
    lat_delta = radius_miles / MILES_PER_DEGREE_LATITUDE
    north, south = min(latitude + lat_delta, 90.0), max(latitude - lat_delta, -90.0)
    # Longitude degrees shrink with latitude; use the box edge nearest a pole so the box stays wide enough.
    widest_latitude = min(max(abs(north), abs(south)), 89.9)
    lng_delta = radius_miles / (MILES_PER_DEGREE_LATITUDE * math.cos(math.radians(widest_latitude)))
    if lng_delta >= 180:
        return BoundingBox(south, -180.0, north, 180.0)
    return BoundingBox(south, max(longitude - lng_delta, -180.0), north, min(longitude + lng_delta, 180.0))


# Where the US and its territories lie: boxes generous by a few miles around the land, so that every real
# ZIP centroid and address falls inside one and "0,0" (the Atlantic off Africa) or a typo's sign flip does not.
US_AREAS = {
    "contiguous states": BoundingBox(south=24.0, west=-125.0, north=49.5, east=-66.5),
    "Alaska, east of the antimeridian": BoundingBox(south=51.0, west=-180.0, north=71.8, east=-129.5),
    "the western Aleutians, across the antimeridian": BoundingBox(south=51.0, west=172.0, north=53.5, east=180.0),
    "Hawaii": BoundingBox(south=18.5, west=-178.5, north=28.5, east=-154.5),
    "Puerto Rico and the US Virgin Islands": BoundingBox(south=17.5, west=-68.0, north=18.7, east=-64.4),
    "Guam and the Northern Mariana Islands": BoundingBox(south=13.0, west=144.5, north=20.7, east=146.2),
    "American Samoa": BoundingBox(south=-14.7, west=-171.2, north=-11.0, east=-168.0),
}


def in_us_area(point: Point) -> bool:
    """Return whether the point lies in the US states or territories (see US_AREAS)."""
    return any(box.contains(point) for box in US_AREAS.values())


def mean_point(points: list[Point]) -> Point:
    """Return the centre of these points, averaged on the sphere (right across the antimeridian too)."""
    x = y = z = 0.0
    for latitude, longitude in points:
        lat, lng = math.radians(latitude), math.radians(longitude)
        x, y, z = x + math.cos(lat) * math.cos(lng), y + math.cos(lat) * math.sin(lng), z + math.sin(lat)
    return (
        math.degrees(math.atan2(z, math.hypot(x, y))),
        math.degrees(math.atan2(y, x)),
    )


def describe_distance(miles: float, exact: bool) -> str:
    """Return a distance worded as exactly as it is known: "2.4 miles" to a practice placed at its street address,
    "about 3 miles" to one placed at its ZIP centre (then it could be a few miles either way).

    The patient's end is always the centre of their ZIP code, so even an exact practice gets no finer than
    "under a mile", and an approximate one never less than "about 1 mile".
    """
    if miles == math.inf:
        return gettext("distance unknown")
    if exact:
        if miles < 1:
            return gettext("under a mile")
        return gettext("%(miles)s miles") % {"miles": number_format(round(miles, 1), 1, force_grouping=True)}
    whole = max(1, round(miles))
    return ngettext("about %(miles)s mile", "about %(miles)s miles", whole) % {
        "miles": number_format(whole, force_grouping=True)
    }


def describe_distance_away(miles: float, exact: bool) -> str:
    """Return describe_distance() as a sentence: "About 3 miles away" (a ranking reason, a map popup)."""
    if miles == math.inf:
        return gettext("Distance unknown")
    if exact:
        if miles < 1:
            return gettext("Under a mile away")
        return gettext("%(miles)s miles away") % {"miles": number_format(round(miles, 1), 1, force_grouping=True)}
    whole = max(1, round(miles))
    return ngettext("About %(miles)s mile away", "About %(miles)s miles away", whole) % {
        "miles": number_format(whole, force_grouping=True)
    }
