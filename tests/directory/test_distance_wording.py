"""Distances say how exact they are: to a geocoded street address to a tenth of a mile, to a ZIP centre "about"."""

import math
import re

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from directory import geo
from directory.models import CoordinatesPrecision, CoordinatesSource, Practice
from tests.factories import PracticeFactory, SpecialistFactory


@pytest.mark.parametrize(
    ("miles", "exact", "words"),
    [
        (0.0, False, "about 1 mile"),
        (0.04, False, "about 1 mile"),
        (1.4, False, "about 1 mile"),
        (2.6, False, "about 3 miles"),
        (1234.4, False, "about 1,234 miles"),
        (0.0, True, "under a mile"),
        (0.96, True, "under a mile"),
        (2.44, True, "2.4 miles"),
        (1234.46, True, "1,234.5 miles"),
        (math.inf, True, "distance unknown"),
    ],
)
def test_describe_distance(miles, exact, words):
    assert geo.describe_distance(miles, exact) == words


@pytest.mark.parametrize("miles", [0.0, 0.01, 0.049, 0.3, 5.0, 49.9])
@pytest.mark.parametrize("exact", [True, False])
def test_no_distance_is_ever_worded_below_a_mile_in_tenths(miles, exact):
    words = geo.describe_distance(miles, exact)
    assert "0.1" not in words and "less than" not in words.lower()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source", "precision", "exact"),
    [
        (CoordinatesSource.ZIP_CENTROID, CoordinatesPrecision.ZIP_CENTROID, False),
        (CoordinatesSource.GEOCODER, CoordinatesPrecision.AREA, False),
        (CoordinatesSource.GEOCODER, CoordinatesPrecision.STREET, True),
        (CoordinatesSource.GEOCODER, CoordinatesPrecision.ROOFTOP, True),
        (CoordinatesSource.MANUAL, "", True),
    ],
)
def test_has_exact_location(source, precision, exact):
    practice = PracticeFactory()
    Practice.objects.filter(pk=practice.pk).update(coordinates_source=source, coordinates_precision=precision)
    practice.refresh_from_db()
    assert practice.has_exact_location is exact


@pytest.mark.django_db
def test_results_and_profile_word_a_zip_centre_distance_as_approximate(client):
    specialist = SpecialistFactory(last_name="Centroid", practices=[PracticeFactory(zip_code="60611")])
    html = client.get(reverse("referral:search"), {"zip": "60611"}).content.decode()
    card = re.search(rf'id="result-{specialist.pk}".*?</li>\s*$', html, re.S | re.M).group(0)
    assert '<p class="distance"><strong>about 1 mile</strong>' in card
    assert "0.0 miles" not in card
    assert '"distance_label": "about 1 mile"' in html  # the map's popup says the same
    profile = client.get(specialist.get_absolute_url(), {"zip": "60611"}).content.decode()
    assert "<strong>about 1 mile</strong> from ZIP 60611" in profile
    assert "approximate: measured to the centre of the practice's ZIP code" in profile


@pytest.mark.django_db
def test_results_give_a_geocoded_practice_its_distance_in_tenths(client):
    practice = PracticeFactory(zip_code="60611")
    specialist = SpecialistFactory(practices=[practice])
    practice.latitude, practice.longitude = 41.9300, -87.6200  # about 2.4 miles north of the 60611 centre
    practice.coordinates_source, practice.coordinates_precision = "manual", ""
    practice.save()
    html = client.get(reverse("referral:search"), {"zip": "60611"}).content.decode()
    card = re.search(rf'id="result-{specialist.pk}".*?</li>\s*$', html, re.S | re.M).group(0)
    assert re.search(r'<p class="distance"><strong>2\.\d miles</strong>', card)


@given(miles=st.floats(min_value=0, max_value=6000, allow_nan=False), exact=st.booleans())
def test_the_words_never_claim_more_than_is_known(miles, exact):
    words = geo.describe_distance(miles, exact)
    number = re.search(r"[\d,.]+", words)
    if exact and miles < 1:
        assert words == "under a mile"
        return
    shown = float(number.group(0).replace(",", ""))
    if exact:
        assert abs(shown - miles) <= 0.05 + 1e-9 and re.fullmatch(r"[\d,]+\.\d miles", words)
    else:
        assert words.startswith("about ") and shown == int(shown) >= 1  # whole miles only
        assert abs(shown - miles) <= max(0.5, 1 - miles) + 1e-9
