"""Distance and bounding-box math on (latitude, longitude) points: pure functions, no ORM."""

import math
from dataclasses import dataclass

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
