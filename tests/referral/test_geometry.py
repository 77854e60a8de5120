"""reach_by_band computes each band edge's width once; these compare it with the plain per-band maximum."""

import math

from hypothesis import given
from hypothesis import strategies as st

from directory import geo
from referral import matching
from referral.matching import RADIANS_PER_MILE, SLACK_DEGREES, WHOLE_BAND


def reference_reach(origin, miles):
    """The per-band form: each band's widest stretch is at one of its two edges or at the circle's widest."""
    theta = miles * RADIANS_PER_MILE * (1 + 1e-9) + 1e-12
    latitude = origin[0]
    theta_degrees = math.degrees(theta)
    south, north = max(latitude - theta_degrees, -90.0), min(latitude + theta_degrees, 90.0)
    bands = range(geo.latitude_band(south), geo.latitude_band(north) + 1)
    sin0, cos0, cos_theta = math.sin(math.radians(latitude)), math.cos(math.radians(latitude)), math.cos(theta)
    if theta >= math.pi / 2 or cos0 < 1e-9:
        return dict.fromkeys(bands, WHOLE_BAND)
    widest = math.degrees(math.asin(sin0 / cos_theta)) if abs(sin0) < cos_theta else None

    def half_width(phi):
        cos_phi = math.cos(math.radians(phi))
        if cos_phi < 1e-9:
            return WHOLE_BAND
        extent = (cos_theta - sin0 * math.sin(math.radians(phi))) / (cos0 * cos_phi)
        if extent <= -1:
            return WHOLE_BAND
        return min(math.degrees(math.acos(min(extent, 1.0))) + SLACK_DEGREES, WHOLE_BAND)

    reach = {}
    for band in bands:
        low = max(band / geo.BANDS_PER_DEGREE, south)
        high = min((band + 1) / geo.BANDS_PER_DEGREE, north)
        edges = [low, high, widest] if widest is not None and low < widest < high else [low, high]
        reach[band] = max(half_width(phi) for phi in edges)
    return reach


latitudes = st.one_of(
    st.floats(-90, 90),
    st.sampled_from([-90.0, -89.99999, -45.0, 0.0, 13.4443, 51.88, 89.99999, 90.0]),  # poles, Guam, Aleutians
    st.integers(-360, 360).map(lambda quarter: quarter / geo.BANDS_PER_DEGREE),  # on a band edge
)
longitudes = st.one_of(st.floats(-180, 180), st.sampled_from([-180.0, 179.9999, 180.0, 144.79, -170.7]))
radii = st.one_of(
    st.floats(0, 13000),
    st.sampled_from([0.0, 1e-6, 0.01, 10.0, 6200.0, 6225.0, 12450.0]),  # tiny, about a quarter, half the earth
)


@given(latitudes, longitudes, radii)
def test_sharing_band_edges_gives_the_per_band_maximum(latitude, longitude, miles):
    assert matching.reach_by_band((latitude, longitude), miles) == reference_reach((latitude, longitude), miles)


@given(latitudes, longitudes, radii, st.integers(-400, 400), st.integers(0, 400))
def test_within_keeps_only_the_bands_in_range_with_their_widths(latitude, longitude, miles, first, count):
    within = (first, first + count)
    expected = {
        band: width
        for band, width in reference_reach((latitude, longitude), miles).items()
        if first <= band <= first + count
    }
    assert matching.reach_by_band((latitude, longitude), miles, within) == expected
