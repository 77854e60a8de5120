"""Which stored web addresses may become links: http and https only, checked when they are shown.

The importer and the admin validate websites, but a row can reach the database another way (a fixture, a
restore, SQL), so every renderer asks here before it writes a link.
"""

from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings

SAFE_SCHEMES = {"http", "https"}


def safe_url(value) -> str | None:
    """Return `value` as an http(s) URL with a host, fit for a link, or None (then show it as text, if at all)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parts = urlsplit(value.strip())  # also drops the tabs and newlines a browser would ignore
    except ValueError:  # e.g. an invalid IPv6 host
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.hostname:
        return None
    return urlunsplit(parts)


# Directions: a plain link the patient chooses to follow, carrying only the practice's public address (never the
# patient's ZIP: the site's Referrer-Policy is same-origin and the links say rel="noreferrer"). Nothing is requested
# by our page. SIJ_DIRECTIONS picks the provider; "off" shows no link.
DIRECTIONS = {
    "openstreetmap": "https://www.openstreetmap.org/directions?to={address}",
    "google": "https://www.google.com/maps/dir/?api=1&destination={address}",
    "apple": "https://maps.apple.com/?daddr={address}",
    "geo": "geo:0,0?q={address}",
}


def directions_url(practice) -> str:
    """Return the directions link to `practice`'s street address with the configured provider, or ""."""
    template = DIRECTIONS.get(getattr(settings, "SIJ_DIRECTIONS", "openstreetmap"))
    if template is None or practice is None or not practice.address_line1:
        return ""
    return template.format(address=quote(practice.address, safe=""))
