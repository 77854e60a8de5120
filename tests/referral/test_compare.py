"""Compare two or three specialists side by side on a plain GET page."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from directory.models import Procedure, VolumeSource
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory, TrainingFactory

pytestmark = pytest.mark.django_db

COMPARE = reverse("referral:compare")


def past_year():
    end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    return end - datetime.timedelta(days=364), end


@pytest.fixture
def pair():
    start, end = past_year()
    surgeon = SpecialistFactory(
        first_name="Maria",
        last_name="Alvarez",
        offers_mis_si_fusion=True,
        accepting_new_patients=True,
        telehealth=True,
        practices=[
            PracticeFactory(name="Lakeshore Spine Center", zip_code="60201", city="Evanston", phone="847-555-0101")
        ],
    )
    ProcedureVolumeFactory(specialist=surgeon, count=34, period_start=start, period_end=end, verified=True)
    TrainingFactory(specialist=surgeon, course="MIS SI-joint fusion course", year=2024)
    injector = SpecialistFactory(
        first_name="James",
        last_name="Okafor",
        offers_diagnostic_si_injection=True,
        accepting_new_patients=False,
        practices=[PracticeFactory(name="West Side Pain Clinic", zip_code="60612")],
    )
    ProcedureVolumeFactory(
        specialist=injector,
        procedure=Procedure.SI_INJECTION,
        count=None,
        is_suppressed=True,
        source=VolumeSource.CMS_MEDICARE,
        period_start=start,
        period_end=end,
    )
    return surgeon, injector


def get(client, **query):
    response = client.get(COMPARE, query)
    return response, response.content.decode()


def row(html, heading):
    """Return the text of the table row whose row header starts with `heading`."""
    match = re.search(rf'<tr>\s*<th scope="row">{re.escape(heading)}.*?</tr>', html, re.S)
    assert match, f"no row {heading!r}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0))).strip()


def test_two_specialists_side_by_side_with_counts_periods_sources_services_and_availability(client, pair):
    surgeon, injector = pair
    response, html = get(client, ids=[surgeon.pk, injector.pk])
    assert response.status_code == 200
    names = re.findall(r'<th scope="col">\s*<a href="[^"]+">([^<]+)</a>', html)
    assert names == ["Maria Alvarez", "James Okafor"]
    start, end = past_year()
    fusions = row(html, "Minimally invasive SI-joint fusion")
    assert "34" in fusions and "self-reported, verified" in fusions
    assert f"{end:%Y}" in fusions  # the period is shown with the count
    assert "No past-year count" in fusions  # the injector has none: never a 0
    injections = row(html, "SI-joint injection")
    assert "Not published (the source withholds small counts)" in injections and "CMS Medicare" in injections
    assert " 0 " not in f" {injections} "
    assert row(html, "Accepting new patients") == "Accepting new patients Yes No"
    assert row(html, "Telehealth") == "Telehealth Offered Not listed"
    assert row(html, "Image-guided diagnostic SI-joint injection") == (
        "Image-guided diagnostic SI-joint injection Not listed ✓ Offered"
    )
    assert "MIS SI-joint fusion course, 2024" in row(html, "SI-joint training")
    # Neither practice has confirmed its insurance: said so, never "none".
    assert row(html, "Insurance").count("Not on file: ask the office") == 2
    assert 'href="tel:+18475550101"' in html and "(847) 555-0101" in html
    assert "Distance from ZIP" not in html and "Match score" not in html  # no ZIP given


def test_with_a_zip_and_situation_it_shows_distances_and_reasons(client, pair):
    surgeon, injector = pair
    _response, html = get(
        client, ids=[surgeon.pk, injector.pk], zip="60611", diagnostic_injection="relieved", conservative_months="8"
    )
    distance = row(html, "Distance from ZIP 60611")
    assert re.fullmatch(r"Distance from ZIP 60611 about \d+ miles about \d miles?", distance)
    reasons = row(html, "Why it ranks where it does")
    assert reasons.count("Match score") == 2
    assert "Distances from the centre of ZIP 60611 (Chicago, IL); reasons for: " in html
    back = f"{reverse('referral:search')}?zip=60611&amp;diagnostic_injection=relieved&amp;conservative_months=8"
    assert back in html and "ids=" not in back


def test_three_are_fine(client, pair):
    third = SpecialistFactory(first_name="Noel", last_name="Nearby")
    response, html = get(client, ids=[*(s.pk for s in pair), third.pk])
    assert response.status_code == 200
    assert "compare-table--3" in html and "Noel Nearby" in html


@pytest.mark.parametrize(
    ("ids", "error"),
    [
        ([], None),  # a bare /compare/: how to use it, no error
        (["1"], "Choose two or three specialists to compare"),
        (["x1", "2"], "“x1” is not a specialist number."),
        (["1", "1"], "Choose two or three specialists to compare"),  # the same one twice is one
    ],
)
def test_too_few_or_malformed_ids_are_form_errors(client, ids, error):
    response, html = get(client, ids=ids)
    assert response.status_code == 200
    if error:
        assert error in html and 'role="alert"' in html
    else:
        assert "tick two or three of them in the results" in html and 'role="alert"' not in html
    assert "compare-table" not in html


def test_more_than_three_is_a_form_error(client):
    ids = [SpecialistFactory().pk for _ in range(4)]
    _response, html = get(client, ids=ids)
    assert "Choose at most 3 specialists to compare; you chose 4." in html
    assert "compare-table" not in html


def test_unknown_or_unpublished_ids_are_named_in_the_error(client, pair):
    hidden = SpecialistFactory(is_published=False)
    _response, html = get(client, ids=[pair[0].pk, hidden.pk, 99999999])
    assert f"Not in the directory (or no longer published): specialist {hidden.pk}, 99999999." in html
    assert "Maria Alvarez" not in html  # nothing half-shown


def test_a_bad_zip_still_compares_without_distances(client, pair):
    response, html = get(client, ids=[s.pk for s in pair], zip="00000")
    assert response.status_code == 200
    assert "No such US ZIP: 00000" in html
    assert "Maria Alvarez" in html and "Distance from ZIP" not in html


def test_results_page_offers_compare_checkboxes_in_a_get_form_carrying_the_search(client, pair):
    html = client.get(reverse("referral:search"), {"zip": "60611", "prior_lumbar_fusion": "yes"}).content.decode()
    form = re.search(r'<form class="compare-bar" id="compare-form" method="get" action="([^"]+)".*?</form>', html, re.S)
    assert form and form.group(1) == COMPARE
    assert '<input type="hidden" name="zip" value="60611">' in form.group(0)
    assert '<input type="hidden" name="prior_lumbar_fusion" value="yes">' in form.group(0)
    for specialist in pair:
        assert f'name="ids" value="{specialist.pk}" form="compare-form"' in html
    assert 'href="#compare-form"' in html


def test_compare_page_queries_stay_flat(client, pair, django_assert_max_num_queries):
    third = SpecialistFactory()
    with django_assert_max_num_queries(12):  # specialists with practices, counts, trainings; ZIP; no per-column N+1
        client.get(COMPARE, {"ids": [pair[0].pk, pair[1].pk, third.pk], "zip": "60611"})
