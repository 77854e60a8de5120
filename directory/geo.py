"""Distance and bounding-box math on (latitude, longitude) points: pure functions, no ORM."""

import math
from dataclasses import dataclass

from geopy.distance import great_circle

Point = tuple[float, float]

EARTH_RADIUS_MILES = 6371.009 * 0.621371  # geopy's mean earth radius (km), in miles
MILES_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_MILES / 180


@dataclass(frozen=True)
class BoundingBox:
    south: float
    west: float
    north: float
    east: float

    def contains(self, point: Point) -> bool:
        latitude, longitude = point
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east


def distance_miles(a: Point, b: Point) -> float:
    """Return the great-circle distance between two points, in miles."""
    return great_circle(a, b).miles


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
