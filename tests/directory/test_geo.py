import pytest

from directory import geo

NEW_YORK_10001 = (40.7484, -73.9967)
BEVERLY_HILLS_90210 = (34.0901, -118.4065)
CHICAGO_60611 = (41.8948, -87.6203)


@pytest.mark.parametrize(
    ("a", "b", "miles"),
    [
        (NEW_YORK_10001, NEW_YORK_10001, 0.0),
        (NEW_YORK_10001, BEVERLY_HILLS_90210, 2450),
        (NEW_YORK_10001, CHICAGO_60611, 712),
        ((40.0, -75.0), (41.0, -75.0), 69.1),
    ],
)
def test_distance_miles_matches_known_values(a, b, miles):
    assert geo.distance_miles(a, b) == pytest.approx(miles, abs=max(5, miles * 0.005))


def test_distance_is_symmetric():
    assert geo.distance_miles(CHICAGO_60611, BEVERLY_HILLS_90210) == pytest.approx(
        geo.distance_miles(BEVERLY_HILLS_90210, CHICAGO_60611)
    )


@pytest.mark.parametrize("radius", [1, 10, 50, 100, 250, 500])
@pytest.mark.parametrize("center", [CHICAGO_60611, (61.2, -149.9), (21.3, -157.8), (25.8, -80.2)])
def test_bounding_box_contains_every_point_on_the_circle(center, radius):
    box = geo.bounding_box(center, radius)
    for bearing in range(0, 360, 15):
        from geopy.distance import great_circle

        edge = great_circle(miles=radius * 0.999).destination(center, bearing)
        assert box.contains((edge.latitude, edge.longitude)), bearing


def test_bounding_box_is_not_much_larger_than_the_circle():
    box = geo.bounding_box(CHICAGO_60611, 50)
    assert geo.distance_miles((box.north, CHICAGO_60611[1]), CHICAGO_60611) == pytest.approx(50, rel=0.01)
    assert box.east - box.west < 2.1  # about 1.94° of longitude at 42°N for ±50 miles


def test_bounding_box_clamps_near_the_pole():
    box = geo.bounding_box((89.5, 0.0), 100)
    assert box.north == 90.0 and box.west == -180.0 and box.east == 180.0


@pytest.mark.parametrize(
    ("latitude", "band"), [(41.0, 164), (41.2499, 164), (41.25, 165), (-0.1, -1), (0.0, 0), (-14.27, -58)]
)
def test_latitude_band_is_a_quarter_degree(latitude, band):
    assert geo.latitude_band(latitude) == band


def test_box_bands_cover_every_latitude_in_the_box():
    box = geo.bounding_box(CHICAGO_60611, 100)
    bands = box.bands()
    assert bands == sorted(set(bands)) and len(bands) in (12, 13)
    for step in range(101):
        latitude = box.south + (box.north - box.south) * step / 100
        assert geo.latitude_band(latitude) in bands
