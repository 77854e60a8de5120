"""Street-address geocoding of practices through a configurable geopy geocoder.

Off unless SIJ_GEOCODER names a geopy service: practices then stay at their ZIP centroid and no address leaves
the machine. When on, each practice's normalised street address is asked once (answers, "not found" included,
are kept in GeocodedAddress), requests are spaced by geopy's RateLimiter (Nominatim allows one a second), a
curator's hand-set coordinates are never touched, and an address the geocoder cannot place, or places far from
its ZIP, leaves the practice at its ZIP centroid.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim, get_geocoder_for_service

from directory import geo
from directory.models import (
    CoordinatesPrecision,
    CoordinatesSource,
    GeocodedAddress,
    Practice,
    ZipCode,
    batch_changes,
)

# A result this far from the practice's ZIP centroid is a different place with a similar name, not the practice.
MAX_MILES_FROM_ZIP = 30
# Nominatim's place_rank: 30 is a building or house number, 26–27 a street (https://nominatim.org/release-docs/
# latest/customize/Ranking/).
NOMINATIM_BUILDING_RANK, NOMINATIM_STREET_RANK = 30, 26
# Where US practices are: the states and the territories Nominatim files under their own country codes.
US_COUNTRY_CODES = ["us", "pr", "gu", "vi", "as", "mp"]


class GeocodingOff(Exception):
    """No geocoder is configured (SIJ_GEOCODER is empty)."""


@dataclass
class GeocodeSummary:
    geocoded: int = 0  # practices placed by the geocoder (asked now or answered from the cache)
    asked: int = 0  # requests sent to the geocoder
    from_cache: int = 0
    not_found: int = 0  # left at (or sent back to) the ZIP centroid
    too_far: int = 0  # an answer more than MAX_MILES_FROM_ZIP from the ZIP: left at the ZIP centroid
    manual: int = 0  # hand-set coordinates, left alone
    no_street: int = 0  # no street address to look up
    stopped: str = ""  # why the run stopped early (the geocoder failed), or ""
    notes: list[str] = field(default_factory=list)

    def __str__(self):
        parts = [
            f"{self.geocoded} geocoded ({self.asked} asked, {self.from_cache} from the cache)",
            f"{self.not_found} not found",
            f"{self.too_far} too far from their ZIP",
            f"{self.manual} set by hand (kept)",
            f"{self.no_street} without a street address",
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class Answer:
    point: tuple[float, float] | None
    precision: str
    found_address: str = ""


def geocoder_service() -> str:
    return settings.SIJ_GEOCODER


def build_geocode() -> Callable[[str], Answer]:
    """Return a function address → Answer that asks the configured geocoder, rate-limited; raise GeocodingOff or
    ImproperlyConfigured when it is not (properly) configured."""
    service = geocoder_service()
    if not service:
        raise GeocodingOff("Geocoding is off: SIJ_GEOCODER is not set.")
    try:
        geocoder_class = get_geocoder_for_service(service)
    except GeopyError as error:
        raise ImproperlyConfigured(f"SIJ_GEOCODER={service!r} is not a geopy geocoder: {error}") from None
    options = {"timeout": settings.SIJ_GEOCODER_TIMEOUT_SECONDS}
    if settings.SIJ_GEOCODER_URL:
        url = urlsplit(settings.SIJ_GEOCODER_URL)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ImproperlyConfigured(f"SIJ_GEOCODER_URL must look like https://host[:port], not {url.geturl()!r}.")
        options |= {"scheme": url.scheme, "domain": url.netloc + url.path.rstrip("/")}
    if settings.SIJ_GEOCODER_USER_AGENT:
        options["user_agent"] = settings.SIJ_GEOCODER_USER_AGENT
    elif geocoder_class is Nominatim and not settings.SIJ_GEOCODER_URL:
        raise ImproperlyConfigured(
            "The public Nominatim server requires a user agent that identifies this installation: set "
            "SIJ_GEOCODER_USER_AGENT (e.g. 'sij-finder (ops@example.org)')."
        )
    else:
        options["user_agent"] = "sij-finder"
    if settings.SIJ_GEOCODER_API_KEY:
        options["api_key"] = settings.SIJ_GEOCODER_API_KEY
    try:
        geocoder = geocoder_class(**options)
    except (TypeError, GeopyError) as error:
        raise ImproperlyConfigured(f"The {service} geocoder does not accept these settings: {error}") from None
    extra = {"country_codes": US_COUNTRY_CODES} if isinstance(geocoder, Nominatim) else {}
    limited = RateLimiter(
        geocoder.geocode,
        min_delay_seconds=settings.SIJ_GEOCODER_MIN_DELAY_SECONDS,
        max_retries=2,
        error_wait_seconds=2 * settings.SIJ_GEOCODER_MIN_DELAY_SECONDS,
        swallow_exceptions=False,  # a failure is not "not found": it must not be cached as one
    )

    def geocode(address: str) -> Answer:
        location = limited(address, exactly_one=True, **extra)
        if location is None:
            return Answer(None, "")
        return Answer((location.latitude, location.longitude), precision_of(location.raw), location.address or "")

    return geocode


def precision_of(raw: dict) -> str:
    """Return the CoordinatesPrecision of a geocoder's raw answer (Nominatim's and Google's are understood; any
    other service's answer counts as AREA: placed, but not known to be at the address)."""
    if "place_rank" in raw:  # Nominatim
        rank = int(raw["place_rank"])
        if rank >= NOMINATIM_BUILDING_RANK:
            return CoordinatesPrecision.ROOFTOP
        return CoordinatesPrecision.STREET if rank >= NOMINATIM_STREET_RANK else CoordinatesPrecision.AREA
    geometry = raw.get("geometry")
    location_type = geometry.get("location_type") if isinstance(geometry, dict) else None
    if location_type == "ROOFTOP":
        return CoordinatesPrecision.ROOFTOP
    if location_type == "RANGE_INTERPOLATED":
        return CoordinatesPrecision.STREET
    return CoordinatesPrecision.AREA


def practices_to_geocode(*, refresh: bool = False, include_unpublished: bool = False):
    """Return the practices a run looks at: with a street address and no hand-set coordinates; by default only
    those of published specialists (the NPPES stubs are a million addresses) and not yet geocoded."""
    practices = Practice.objects.exclude(coordinates_source=CoordinatesSource.MANUAL).exclude(address_line1="")
    if not include_unpublished:
        practices = practices.filter(specialists__is_published=True).distinct()
    if not refresh:
        practices = practices.exclude(coordinates_source=CoordinatesSource.GEOCODER)
    return practices.order_by("pk")


def geocode_practices(practices: Iterable[Practice], *, refresh: bool = False, geocode=None) -> GeocodeSummary:
    """Geocode these practices' street addresses; return what happened. `refresh` asks again despite the cache.

    Each practice is written in its own transaction, so a run stopped by a failing geocoder keeps what it did.
    """
    geocode = geocode or build_geocode()
    service = geocoder_service()
    summary = GeocodeSummary()
    asked = set()
    with batch_changes():  # the search index is refreshed once, at the end
        for practice in practices:
            if practice.coordinates_source == CoordinatesSource.MANUAL:
                summary.manual += 1
                continue
            if not practice.address_line1.strip():
                summary.no_street += 1
                continue
            address = practice.normalized_address
            fresh_enough = not refresh or address in asked  # --refresh asks each address once per run
            cached = GeocodedAddress.objects.filter(address=address).first() if fresh_enough else None
            if cached is None:
                try:
                    answer = geocode(address)
                except GeopyError as error:
                    summary.stopped = f"the geocoder failed ({type(error).__name__}: {error})"
                    break
                summary.asked += 1
                asked.add(address)
                cached = remember(address, service, answer)
            else:
                summary.from_cache += 1
            with transaction.atomic():
                outcome = place(practice, cached)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def remember(address: str, service: str, answer: Answer) -> GeocodedAddress:
    latitude, longitude = answer.point or (None, None)
    cached, _created = GeocodedAddress.objects.update_or_create(
        address=address,
        defaults={
            "geocoder": service,
            "latitude": latitude,
            "longitude": longitude,
            "precision": answer.precision if answer.point else "",
            "found_address": answer.found_address[:500],
            "looked_up_at": timezone.now(),
        },
    )
    return cached


def place(practice: Practice, cached: GeocodedAddress) -> str:
    """Put the practice where the cached answer says, or at its ZIP centroid; return the GeocodeSummary field."""
    outcome = "geocoded"
    if cached.point is None:
        outcome = "not_found"
    else:
        centroid = ZipCode.objects.filter(code=practice.zip_code).first()
        if centroid and geo.distance_miles(centroid.point, cached.point) > MAX_MILES_FROM_ZIP:
            outcome = "too_far"
    before = (practice.latitude, practice.longitude, practice.coordinates_source, practice.coordinates_precision)
    if outcome == "geocoded":
        practice.latitude, practice.longitude = cached.point
        practice.coordinates_source = CoordinatesSource.GEOCODER
        practice.coordinates_precision = cached.precision
        practice.geocoded_address = cached.address
        practice._change_reason = f"Geocoded by {cached.geocoder} ({cached.get_precision_display().lower()})"
    else:
        practice.set_coordinates_from_zip()
        practice._change_reason = f"Geocoder: {outcome.replace('_', ' ')}; placed at the ZIP centroid"
    after = (practice.latitude, practice.longitude, practice.coordinates_source, practice.coordinates_precision)
    if after != before:
        practice.save()
    return outcome
