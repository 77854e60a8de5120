"""Where a patient search starts: the located ZipCode of the ZIP the patient typed, cached in each process.

ZIP centroids are reference data (loaded by a migration, reloaded rarely, corrected by a curator now and then),
and looking one up was about a tenth of an API search's CPU (BENCHMARKS.md, "Search over HTTP"). Only ZIPs that
were found and located are kept, so a ZIP loaded later is found at once. A ZipCode saved or deleted in this
process, and a migration or flush (the test runner's), empty the cache; a change made by another process (a
curator in the admin served by another worker, `manage.py load_zipcodes`) reaches this one within
ORIGIN_CACHE_SECONDS.
"""

import copy
import time

from django.db.models.signals import post_delete, post_migrate, post_save

from directory.models import ZipCode, normalize_zip

ORIGIN_CACHE_SECONDS = 600
ORIGIN_CACHE_SIZE = 50_000  # more than every US ZIP: one process never holds more than ~20 MB of them

_origins: dict[str, tuple[float, ZipCode]] = {}


def search_origin(raw) -> ZipCode:
    """Return the located ZipCode for user input (ZIP5 or ZIP+4); a ValidationError as ZipCode.objects.for_input."""
    code = normalize_zip(raw)
    now = time.monotonic()
    cached = _origins.get(code)
    if cached is not None and cached[0] > now:
        return copy.copy(cached[1])  # a copy: a caller may change its own instance
    zip_code = ZipCode.objects.for_input(code)
    if len(_origins) >= ORIGIN_CACHE_SIZE:
        _origins.clear()
    _origins[code] = (now + ORIGIN_CACHE_SECONDS, copy.copy(zip_code))
    return zip_code


def forget_origins(**_kwargs) -> None:
    _origins.clear()


def connect_signals() -> None:
    post_save.connect(forget_origins, sender=ZipCode, dispatch_uid="referral.origins.save")
    post_delete.connect(forget_origins, sender=ZipCode, dispatch_uid="referral.origins.delete")
    post_migrate.connect(forget_origins, dispatch_uid="referral.origins.migrate")  # also sent by `flush`
