"""Geocoding practice addresses against a local HTTP server on 127.0.0.1 that answers like Nominatim's /search."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from directory import geocoding
from directory.models import CoordinatesPrecision, CoordinatesSource, GeocodedAddress, Practice, ZipCode
from referral.models import SearchEntry
from tests.factories import PracticeFactory, SpecialistFactory

# 680 N Lake Shore Dr, Chicago: about half a mile from the 60611 centroid.
LAKE_SHORE = {"lat": "41.8936", "lon": "-87.6166", "place_rank": 30, "display_name": "680, North Lake Shore Drive"}


class FakeNominatim:
    """Answers GET /search?q=… from `answers` (query → list of results, as Nominatim's JSON); records requests."""

    def __init__(self):
        self.answers: dict[str, list] = {}
        self.requests: list[dict] = []
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                fake.requests.append({"path": url.path, "query": query, "user_agent": self.headers["User-Agent"]})
                body = json.dumps(fake.answers.get(query.get("q", [""])[0], [])).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def nominatim(settings):
    with FakeNominatim() as fake:
        settings.SIJ_GEOCODER = "nominatim"
        settings.SIJ_GEOCODER_URL = fake.url
        settings.SIJ_GEOCODER_USER_AGENT = "sij-finder-tests (ops@example.org)"
        settings.SIJ_GEOCODER_MIN_DELAY_SECONDS = 0
        yield fake


def lake_shore_practice(**kwargs):
    practice = PracticeFactory(**{"address_line1": "680 N. Lake Shore Dr.", "address_line2": "Suite 1100", **kwargs})
    SpecialistFactory(practices=[practice])
    return practice


def run(*args):
    out = StringIO()
    call_command("geocode_practices", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- Pure parts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "precision"),
    [
        ({"place_rank": 30}, CoordinatesPrecision.ROOFTOP),
        ({"place_rank": "26"}, CoordinatesPrecision.STREET),
        ({"place_rank": 16}, CoordinatesPrecision.AREA),
        ({"geometry": {"location_type": "ROOFTOP"}}, CoordinatesPrecision.ROOFTOP),
        ({"geometry": {"location_type": "RANGE_INTERPOLATED"}}, CoordinatesPrecision.STREET),
        ({"geometry": {"location_type": "APPROXIMATE"}}, CoordinatesPrecision.AREA),
        ({"confidence": 0.9}, CoordinatesPrecision.AREA),  # a service we cannot read: not claimed as exact
    ],
)
def test_precision_of_a_raw_answer(raw, precision):
    assert geocoding.precision_of(raw) == precision


@pytest.mark.parametrize(
    "parts",
    [
        ("680 N. Lake Shore Dr.", "Chicago", "IL", "60611"),
        ("680  n lake shore dr ", "CHICAGO", "IL", "60611"),
        ("680 N Lake Shore Dr", " Chicago ", "il", "60611"),
    ],
)
def test_normalized_address_writes_one_address_one_way(parts):
    from directory.models import normalize_address

    assert normalize_address(*parts) == "680 n lake shore dr, chicago, il 60611"


# --- Off by default --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_off_by_default_the_command_says_so_sends_nothing_and_changes_nothing(settings):
    settings.SIJ_GEOCODER = ""
    practice = lake_shore_practice()
    before = Practice.objects.values().get(pk=practice.pk)
    assert "Geocoding is off" in run()
    assert Practice.objects.values().get(pk=practice.pk) == before
    assert not GeocodedAddress.objects.exists()


@pytest.mark.django_db
def test_public_nominatim_without_a_user_agent_is_refused_with_a_clear_error(settings):
    settings.SIJ_GEOCODER, settings.SIJ_GEOCODER_URL, settings.SIJ_GEOCODER_USER_AGENT = "nominatim", "", ""
    with pytest.raises(CommandError, match="SIJ_GEOCODER_USER_AGENT"):
        run()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("SIJ_GEOCODER", "no-such-geocoder", "not a geopy geocoder"), ("SIJ_GEOCODER_URL", "ftp:x", "must look like")],
)
def test_a_misconfigured_geocoder_is_a_clear_command_error(settings, name, value, message):
    settings.SIJ_GEOCODER, settings.SIJ_GEOCODER_USER_AGENT = "nominatim", "tests"
    setattr(settings, name, value)
    with pytest.raises(CommandError, match=message):
        run()


# --- Against the fake Nominatim --------------------------------------------------------------------


@pytest.mark.django_db
def test_geocodes_a_street_address_records_source_precision_and_history(nominatim):
    practice = lake_shore_practice()
    nominatim.answers["680 n lake shore dr, chicago, il 60611"] = [LAKE_SHORE]
    output = run()

    assert "1 geocoded (1 asked" in output
    practice.refresh_from_db()
    assert (practice.latitude, practice.longitude) == (41.8936, -87.6166)
    assert practice.coordinates_source == CoordinatesSource.GEOCODER
    assert practice.coordinates_precision == CoordinatesPrecision.ROOFTOP
    assert practice.has_exact_location
    assert (
        practice.history.first().history_change_reason == "Geocoded by nominatim (building (the street address itself))"
    )
    # The request: Nominatim's /search, our user agent, the suite left out, US places only.
    (request,) = nominatim.requests
    assert request["path"] == "/search"
    assert request["user_agent"] == "sij-finder-tests (ops@example.org)"
    assert request["query"]["q"] == ["680 n lake shore dr, chicago, il 60611"]
    assert "us" in request["query"]["countrycodes"][0].split(",")
    # The search index follows the practice to its new place.
    entry = SearchEntry.objects.get(practice=practice)
    assert (entry.latitude, entry.longitude) == (41.8936, -87.6166)


@pytest.mark.django_db
def test_the_same_address_is_asked_once_then_answered_from_the_cache(nominatim):
    first, second = lake_shore_practice(), lake_shore_practice()
    Practice.objects.filter(pk=second.pk).update(address_line1="680 N Lake Shore Dr")
    nominatim.answers["680 n lake shore dr, chicago, il 60611"] = [LAKE_SHORE]
    assert "2 geocoded (1 asked, 1 from the cache)" in run()
    assert len(nominatim.requests) == 1
    assert GeocodedAddress.objects.get().precision == CoordinatesPrecision.ROOFTOP
    # A second run has nothing left to do; --refresh asks again.
    assert "Geocoding 0 practices" in run()
    run("--refresh")
    assert len(nominatim.requests) == 2
    first.refresh_from_db()
    assert first.coordinates_source == CoordinatesSource.GEOCODER


@pytest.mark.django_db
def test_a_curators_hand_set_coordinates_are_never_overwritten(nominatim):
    practice = lake_shore_practice()
    Practice.objects.filter(pk=practice.pk).update(latitude=41.9, longitude=-87.62, coordinates_source="manual")
    nominatim.answers["680 n lake shore dr, chicago, il 60611"] = [LAKE_SHORE]
    run("--refresh")
    practice.refresh_from_db()
    assert (practice.latitude, practice.longitude, practice.coordinates_source) == (41.9, -87.62, "manual")
    assert nominatim.requests == []
    summary = geocoding.geocode_practices([practice], geocode=geocoding.build_geocode())  # even when picked
    assert summary.manual == 1 and nominatim.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ([], "1 not found"),
        ([{**LAKE_SHORE, "lat": "34.05", "lon": "-118.24"}], "1 too far from their ZIP"),  # a Los Angeles namesake
    ],
)
def test_unplaceable_addresses_fall_back_to_the_zip_centroid_and_are_remembered(nominatim, answer, outcome):
    practice = lake_shore_practice()
    nominatim.answers["680 n lake shore dr, chicago, il 60611"] = answer
    assert outcome in run()
    practice.refresh_from_db()
    centroid = ZipCode.objects.get(code="60611")
    assert (practice.latitude, practice.longitude) == centroid.point
    assert practice.coordinates_source == CoordinatesSource.ZIP_CENTROID
    assert practice.coordinates_precision == CoordinatesPrecision.ZIP_CENTROID
    assert not practice.has_exact_location
    run()  # asked once: "not found" is cached too
    assert len(nominatim.requests) == 1


@pytest.mark.django_db
def test_a_moved_practice_goes_back_to_its_zip_centroid_until_geocoded_again(nominatim):
    practice = lake_shore_practice()
    nominatim.answers["680 n lake shore dr, chicago, il 60611"] = [LAKE_SHORE]
    run()
    practice.refresh_from_db()
    practice.address_line1, practice.zip_code = "1 W Superior St", "60654"
    practice.save()
    assert practice.coordinates_source == CoordinatesSource.ZIP_CENTROID
    assert practice.point == ZipCode.objects.get(code="60654").point


@pytest.mark.django_db
def test_a_failing_geocoder_stops_the_run_keeping_what_was_done(nominatim):
    done, _failing = lake_shore_practice(), lake_shore_practice(address_line1="1 Missing Rd")
    nominatim.answers["680 n lake shore dr, chicago, il 60611"] = [LAKE_SHORE]
    real = geocoding.build_geocode()
    calls = []

    def geocode(address):
        calls.append(address)
        if len(calls) == 2:
            nominatim.status = 503
        return real(address)

    summary = geocoding.geocode_practices(geocoding.practices_to_geocode(), geocode=geocode)
    assert summary.geocoded == 1 and summary.stopped.startswith("the geocoder failed (Geocoder")
    done.refresh_from_db()
    assert done.coordinates_source == CoordinatesSource.GEOCODER
    assert GeocodedAddress.objects.count() == 1  # the failure is not cached as "not found"
    with pytest.raises(CommandError, match="run the command again"):  # the geocoder is still down
        run()


@pytest.mark.django_db
def test_only_published_specialists_practices_by_default(nominatim):
    lake_shore_practice()
    stub = PracticeFactory(address_line1="2 Stub St")
    SpecialistFactory(practices=[stub], is_published=False)
    nominatim.answers["680 n lake shore dr, chicago, il 60611"] = [LAKE_SHORE]
    assert "Geocoding 1 practice…" in run()
    assert "Geocoding 1 practice…" in run("--include-unpublished")  # the published one is done already
    assert [r["query"]["q"][0] for r in nominatim.requests][-1] == "2 stub st, chicago, il 60611"


# --- Admin action ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_action_geocodes_the_selected_practices(nominatim, curator_client):
    practice = lake_shore_practice()
    nominatim.answers["680 n lake shore dr, chicago, il 60611"] = [LAKE_SHORE]
    response = curator_client.post(
        reverse("admin:directory_practice_changelist"),
        {"action": "geocode_practice_addresses", "_selected_action": [practice.pk]},
        follow=True,
    )
    assert "1 geocoded (1 asked" in response.content.decode()
    practice.refresh_from_db()
    assert practice.coordinates_precision == CoordinatesPrecision.ROOFTOP


@pytest.mark.django_db
def test_admin_action_when_off_says_so(settings, curator_client):
    settings.SIJ_GEOCODER = ""
    practice = lake_shore_practice()
    response = curator_client.post(
        reverse("admin:directory_practice_changelist"),
        {"action": "geocode_practice_addresses", "_selected_action": [practice.pk]},
        follow=True,
    )
    assert "Geocoding is off" in response.content.decode()
    practice.refresh_from_db()
    assert practice.coordinates_source == CoordinatesSource.ZIP_CENTROID
