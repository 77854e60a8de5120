"""The patient pages: home, search results, specialist profile, guide."""

import datetime
import json
import logging

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from directory.models import Procedure, VolumeSource
from referral import resident
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory, TrainingFactory

pytestmark = pytest.mark.django_db

SEARCH = reverse("referral:search")
DISCLAIMER = "Not medical advice."
# The ZIP; the search index's stamp (the index itself is in this process's memory: referral/resident.py); the
# shown ones' index rows (specialists, practices, reasons); the shown practices' insurance; the insurance
# filter's choices.
SEARCH_PAGE_QUERIES = 5


def past_year():
    """Return (start, end) of a twelve-month period that ended last month: inside the past-year window."""
    end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    return end - datetime.timedelta(days=364), end


def chicago_specialist(**kwargs):
    return SpecialistFactory(practices=[PracticeFactory(zip_code="60611", city="Chicago", state="IL")], **kwargs)


def content(response):
    return response.content.decode()


# --- Home and guide -----------------------------------------------------------------------------------


def test_home_shows_the_search_form_explanation_and_guide_link(client):
    response = client.get(reverse("referral:home"))
    html = content(response)
    assert response.status_code == 200
    assert f'action="{SEARCH}"' in html and 'method="get"' in html
    for name in ("zip", "radius", "prior_lumbar_fusion", "conservative_months", "diagnostic_injection"):
        assert f'name="{name}"' in html
    assert '<label for="id_zip">' in html
    assert "Why SI-joint expertise matters" in html
    assert reverse("referral:about") in html
    assert DISCLAIMER in html


def test_about_page_explains_diagnosis_treatment_ranking_and_disclaimer(client):
    response = client.get(reverse("referral:about"))
    html = content(response)
    assert response.status_code == 200
    assert "<title>SI-joint pain: a plain-language guide" in html
    for heading in (
        "What the SI joint is",
        "Symptoms that can point to it",
        "How the diagnosis is confirmed",
        "Treatment, step by step",
        "How SIJ Finder ranks specialists",
    ):
        assert heading in html
    assert "image-guided diagnostic SI-joint injection" in html
    assert "Weight 18 of 116." in html  # the ranking's own default weights, not a copy
    assert "does not diagnose" in html
    assert DISCLAIMER in html


# --- Search: input handling ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?zip=", "?zip=+++", "?radius=25"])
def test_search_without_a_zip_shows_the_form_without_errors(client, query):
    response = client.get(SEARCH + query)
    html = content(response)
    assert response.status_code == 200
    assert 'name="zip"' in html
    assert "Enter your ZIP code" in html
    assert "field-error" not in html


@pytest.mark.parametrize(
    ("zip_code", "message"),
    [
        ("00000", "No such US ZIP: 00000"),
        ("abcde", "ZIP codes have 5 digits"),
        ("6061", "ZIP codes have 5 digits"),
    ],
)
def test_bad_zip_is_reported_next_to_the_field(client, zip_code, message):
    response = client.get(SEARCH, {"zip": zip_code})
    html = content(response)
    assert response.status_code == 200
    assert message in html
    assert 'id="id_zip_error"' in html  # the error sits with the field; the input points to it
    assert 'aria-invalid="true"' in html
    assert "<title>Check your search" in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"radius": "-5"}, "Choose a radius of 10, 25, 50, 100 or 250 miles."),
        ({"sort": "cheapest"}, "Sort by best or distance."),
        ({"conservative_months": "999"}, "must be a whole number from 0 to 120"),
        ({"page_size": "100000"}, "Page size must be a whole number from 1 to 100."),
        ({"specialty": "astrology"}, "Unknown specialty: astrology."),
        ({"zip": "6" * 500}, "ZIP codes have 5 digits"),
    ],
)
def test_bad_parameters_are_errors_next_to_their_field(client, query, message):
    response = client.get(SEARCH, {"zip": "60611", **query})
    html = content(response)
    assert response.status_code == 200
    assert message in html.split('class="field-error"', 1)[1].split("</p>", 1)[0]


@pytest.mark.parametrize("page", ["0", "abc", "-1"])
def test_a_bad_page_number_is_reported_not_a_server_error(client, page):
    response = client.get(SEARCH, {"zip": "60611", "page": page})
    assert response.status_code == 200
    assert "Page must be a whole number" in content(response).split('role="alert"', 1)[1]


# --- Search: results ----------------------------------------------------------------------------------


def test_results_show_the_card_contents_and_link_to_the_profile_with_the_query(client):
    start, end = past_year()
    specialist = chicago_specialist(
        first_name="Maria", last_name="Alvarez", credentials="MD, FAAOS", offers_mis_si_fusion=True
    )
    ProcedureVolumeFactory(specialist=specialist, count=34, period_start=start, period_end=end, verified=True)
    response = client.get(SEARCH, {"zip": "60611", "radius": "50", "diagnostic_injection": "relieved"})
    html = content(response)
    assert response.status_code == 200
    assert "Maria Alvarez" in html and "MD, FAAOS" in html
    assert "Orthopaedic spine surgery" in html
    assert "Chicago, IL" in html
    assert "<strong>about 1 mile</strong>" in html  # a ZIP-centre distance is approximate
    assert "Minimally invasive SI-joint fusion" in html  # the service badge
    assert "34" in html  # the key fact quotes the count
    assert "Why it ranks here" in html
    profile = specialist.get_absolute_url()
    assert f'href="{profile}?zip=60611&amp;radius=50&amp;diagnostic_injection=relieved' in html
    assert "1 specialist within 50 miles" in html
    assert "<title>SI-joint specialists near 60611 (Chicago, IL)" in html


def test_unpublished_specialists_never_appear(client):
    chicago_specialist(last_name="Visible")
    chicago_specialist(last_name="Hidden", is_published=False)
    html = content(client.get(SEARCH, {"zip": "60611"}))
    assert "Visible" in html
    assert "Hidden" not in html


def test_fewer_than_three_in_radius_shows_the_nearest_beyond_it_with_distance(client):
    chicago_specialist(last_name="Nearby")
    SpecialistFactory(
        last_name="Milwaukee", practices=[PracticeFactory(zip_code="53202", city="Milwaukee", state="WI")]
    )
    response = client.get(SEARCH, {"zip": "60611", "radius": "25"})
    html = content(response)
    assert "Only 1 specialist within 25 miles" in html
    beyond = html.split('id="beyond-title"', 1)[1]
    assert "Milwaukee" in beyond and "beyond your distance" in beyond
    assert "Nearby" not in beyond
    within = html.split('id="beyond-title"', 1)[0].split('class="result-list"', 1)[1]
    assert "Milwaukee" not in within
    assert "Nearby" in within and "beyond your distance" not in within and "result-card--beyond" not in within


def test_no_specialist_in_radius_is_not_a_dead_end(client):
    SpecialistFactory(last_name="Billings", practices=[PracticeFactory(zip_code="59101", city="Billings", state="MT")])
    html = content(client.get(SEARCH, {"zip": "59715", "radius": "10"}))  # Bozeman, ~120 miles away
    assert "No specialists within 10 miles" in html
    assert "Billings" in html.split('id="beyond-title"', 1)[1]


def test_three_in_radius_shows_no_beyond_section(client):
    for _ in range(3):
        chicago_specialist()
    SpecialistFactory(practices=[PracticeFactory(zip_code="53202", city="Milwaukee", state="WI")])
    html = content(client.get(SEARCH, {"zip": "60611", "radius": "25"}))
    assert "3 specialists within 25 miles" in html
    assert 'id="beyond-title"' not in html
    assert "Milwaukee" not in html


def test_pagination_links_keep_the_query(client):
    for _ in range(23):
        chicago_specialist()
    first = content(client.get(SEARCH, {"zip": "60611", "sort": "distance"}))
    assert "23 specialists within 50 miles, showing 1–20" in first
    assert 'rel="next" href="?zip=60611&amp;sort=distance&amp;page=2"' in first
    second = content(client.get(SEARCH, {"zip": "60611", "sort": "distance", "page": "2"}))
    assert "showing 21–23" in second
    assert "Page 2 of 2" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_sort_links_switch_between_best_match_and_nearest(client):
    chicago_specialist()
    chicago_specialist()
    html = content(client.get(SEARCH, {"zip": "60611", "page": "1"}))
    assert '<span aria-current="true" class="current">Best match</span>' in html
    assert 'href="?zip=60611&amp;sort=distance">Nearest first</a>' in html


def test_the_page_works_without_javascript(client):
    chicago_specialist(last_name="Alvarez")
    html = content(client.get(SEARCH, {"zip": "60611"}))
    # The refine form is a plain GET form; the map container explains itself without JS, the list is complete.
    assert 'class="card refine-form" method="get"' in html
    assert "The map needs JavaScript" in html
    assert 'aria-label="Map of the specialists' in html
    data = json.loads(html.split('<script id="results-data" type="application/json">', 1)[1].split("</script>")[0])
    assert data["origin"]["label"] == "ZIP 60611"
    assert [marker["rank"] for marker in data["markers"]] == [1]
    assert data["markers"][0]["url"].startswith("/specialists/")


def test_filters_narrow_the_results(client):
    chicago_specialist(last_name="Fuser", offers_mis_si_fusion=True)
    chicago_specialist(last_name="Injector", offers_diagnostic_si_injection=True)
    html = content(client.get(SEARCH, {"zip": "60611", "service": "offers_mis_si_fusion"}))
    assert "Fuser" in html
    assert "Injector" not in html.split('id="beyond-title"', 1)[0]
    assert '<details class="more-filters" open>' in html  # an active filter keeps the filters visible


@pytest.mark.parametrize(
    ("specialists", "query", "cards"),
    [
        (3, {"page_size": "2", "page": "2"}, 1),  # 1 result on the page
        (15, {}, 15),
    ],
)
def test_search_page_query_count_does_not_grow_with_results(
    client, django_assert_num_queries, specialists, query, cards
):
    # Pinned for searches with at least 3 matches in the radius. (With fewer, matching widens its box for
    # the beyond-radius section, one query per widening step, so that count depends on the data.)
    for _ in range(specialists):
        specialist = chicago_specialist()
        ProcedureVolumeFactory(specialist=specialist)
        TrainingFactory(specialist=specialist)
    resident.current(connection.alias)  # the index, written since this process read it, into memory
    with django_assert_num_queries(SEARCH_PAGE_QUERIES):
        response = client.get(SEARCH, {"zip": "60611", "radius": "50", **query})
    assert content(response).count('class="result-card"') == cards


def test_searches_are_not_logged(client, caplog):
    chicago_specialist()
    with caplog.at_level(logging.DEBUG):
        client.get(SEARCH, {"zip": "60611", "prior_lumbar_fusion": "yes"})
    assert "60611" not in caplog.text


# --- Profile ------------------------------------------------------------------------------------------


def test_profile_shows_counts_with_period_source_and_state(client):
    start, end = past_year()
    specialist = chicago_specialist(first_name="Priya", last_name="Raman", verified_at=timezone.now())
    ProcedureVolumeFactory(specialist=specialist, count=34, period_start=start, period_end=end, verified=True)
    ProcedureVolumeFactory(
        specialist=specialist, count=20, period_start=datetime.date(2019, 1, 1), period_end=datetime.date(2019, 12, 31)
    )
    ProcedureVolumeFactory(
        specialist=specialist,
        procedure=Procedure.RF_ABLATION,
        count=None,
        is_suppressed=True,
        source=VolumeSource.CMS_MEDICARE,
        period_start=start,
        period_end=end,
    )
    ProcedureVolumeFactory(
        specialist=specialist, procedure=Procedure.LUMBAR_FUSION, count=224, period_start=start, period_end=end
    )
    response = client.get(specialist.get_absolute_url())
    html = content(response)
    assert response.status_code == 200
    assert "<title>Priya Raman, MD, Orthopaedic spine surgery" in html
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr")[1:]
    current = next(row for row in rows if ">34<" in row)
    assert "Self-reported, verified" in current and "Past year: counted in the ranking" in current
    assert f"{start:%b %Y} – {end:%b %Y}" in current
    stale = next(row for row in rows if ">20<" in row)
    assert "Jan 2019 – Dec 2019" in stale and "Older than 24 months: not counted" in stale
    suppressed = next(row for row in rows if "SI-joint RF ablation" in row)
    assert "Not published" in suppressed and "CMS Medicare, not verified" in suppressed
    lumbar = next(row for row in rows if ">224<" in row)  # the ranking does not score lumbar fusions
    assert "Past year: shown for context, not ranked" in lumbar and "counted in the ranking" not in lumbar
    assert "Profile last verified <time" in html


def test_profile_shows_practices_training_services_and_questions(client):
    practice = PracticeFactory(name="Lakeshore Spine Center", phone="312 555 0141", zip_code="60611")
    specialist = SpecialistFactory(
        practices=[practice], offers_diagnostic_si_injection=True, languages="English; Spanish", telehealth=True
    )
    TrainingFactory(specialist=specialist, course="MIS SI-joint fusion course", provider="Spine society", year=2023)
    html = content(client.get(specialist.get_absolute_url()))
    assert "Lakeshore Spine Center" in html
    assert practice.address in html
    assert 'href="tel:+13125550141"' in html and "(312) 555-0141" in html
    assert "MIS SI-joint fusion course</strong>, Spine society, 2023" in html
    assert "Image-guided diagnostic SI-joint injection" in html
    assert "Speaks Spanish" in html and "Offers telehealth" in html
    assert "Questions to ask this specialist" in html
    assert "with an image-guided diagnostic injection?" in html  # tailored: this specialist offers it
    assert "minimally invasive or an open fusion" in html
    assert "Not verified by our curators yet" in html
    assert DISCLAIMER in html


def test_profile_from_a_search_explains_the_rank(client):
    specialist = SpecialistFactory(practices=[PracticeFactory(zip_code="60201", city="Evanston", state="IL")])
    response = client.get(specialist.get_absolute_url(), {"zip": "60611", "prior_lumbar_fusion": "yes"})
    html = content(response)
    assert "Why this specialist ranked here" in html
    assert "miles</strong> from ZIP 60611 (Chicago, IL)" in html
    assert "Prior lumbar fusion" in html
    assert f'href="{SEARCH}?zip=60611&amp;prior_lumbar_fusion=yes">← Back to the results' in html


@pytest.mark.parametrize("zip_code", ["00000", "nope"])
def test_profile_with_a_bad_search_zip_still_shows_the_profile(client, zip_code):
    specialist = chicago_specialist(last_name="Alvarez")
    response = client.get(specialist.get_absolute_url(), {"zip": zip_code})
    assert response.status_code == 200
    assert "Alvarez" in content(response)
    assert "Why this specialist ranked here" not in content(response)


def test_unpublished_or_missing_profile_is_404(client):
    hidden = chicago_specialist(is_published=False)
    assert client.get(hidden.get_absolute_url()).status_code == 404
    assert client.get(reverse("referral:specialist-detail", args=[hidden.pk + 1000])).status_code == 404


# --- Cards to act on: call, directions, availability, last verified -------------------------------------


def test_result_card_has_tel_link_address_directions_availability_and_last_verified(client):
    practice = PracticeFactory(
        name="Lakeshore Spine Center", address_line1="100 E Ontario St", phone="312-555-0141 ext. 12", zip_code="60611"
    )
    verified = timezone.make_aware(datetime.datetime(2026, 3, 3, 12, 0))
    SpecialistFactory(practices=[practice], verified_at=verified, accepting_new_patients=False, telehealth=True)
    html = content(client.get(reverse("referral:search"), {"zip": "60611"}))
    assert 'href="tel:+13125550141;ext=12"' in html and "(312) 555-0141 ext. 12" in html
    assert "100 E Ontario St, Chicago, IL 60611" in html
    assert (
        'href="https://www.openstreetmap.org/directions?to=100%20E%20Ontario%20St%2C%20Chicago%2C%20IL%2060611"' in html
    )
    assert 'rel="noreferrer"' in html
    assert 'Profile last verified <time datetime="2026-03-03">March 3, 2026</time>' in html
    assert 'badge--no badge--big">Not accepting new patients' in html and "Offers telehealth" in html
    assert "Not accepting new patients: ranked below comparable specialists who are" in html


def test_card_without_phone_says_so_and_unverified_profile_says_so(client):
    SpecialistFactory(practices=[PracticeFactory(phone="", zip_code="60611")], verified_at=None)
    html = content(client.get(reverse("referral:search"), {"zip": "60611"}))
    assert "No phone on file" in html and 'href="tel:' not in html
    assert "Not verified by our curators yet" in html


@pytest.mark.parametrize(
    ("provider", "start"),
    [("google", "https://www.google.com/maps/dir/?api=1&amp;destination="), ("geo", "geo:0,0?q="), ("off", None)],
)
def test_directions_provider_is_a_setting(client, settings, provider, start):
    settings.SIJ_DIRECTIONS = provider
    practice = PracticeFactory(address_line1="100 E Ontario St", zip_code="60611")
    html = content(client.get(SpecialistFactory(practices=[practice]).get_absolute_url()))
    if start is None:
        assert "Directions" not in html
    else:
        assert f'href="{start}100%20E%20Ontario%20St' in html
