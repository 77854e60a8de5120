"""An optional cache of whole search answers (the page and the JSON API): off unless SIJ_SEARCH_CACHE_SECONDS > 0.

A cached answer is the response body exactly as a fresh search rendered it, with its status and content type; the
middleware still runs on it (rate limits, security headers, language), so only the view's work is saved.

What is kept: the key is a hash of the endpoint, the language, the scheme and host (the API writes absolute
URLs) and the query string exactly as received (the page echoes it back into its links in the order given, so
only the same bytes are known to give the same page), and the value is what the search answers anyone with that
query. Nothing about the client: no address, cookie, session or user. The page's CSRF tokens (the language
switcher's form) are cut out before storing and each request gets its own on the way out. Signed-in visitors,
and anyone with a session or pending messages, are never served from it nor stored: their pages differ.

Invalidation: every stored answer carries the cache's generation, a counter kept in the same cache; any change
the directory announces (directory.models.specialists_changed, after the transaction commits) and any saved or
deleted insurance or ZIP code moves the counter on, so every older answer is ignored. With a shared cache
(Redis: CACHE_URL) that holds across processes; with the default local-memory cache each process has its own
answers and counter, and a change made by another process reaches them within SIJ_SEARCH_CACHE_SECONDS.
"""

import hashlib
import logging
import re
import secrets

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import translation
from redis.exceptions import RedisError

from directory.models import Insurance, ZipCode, specialists_changed

logger = logging.getLogger(__name__)

CACHE_ALIAS = "search"
GENERATION_KEY = "generation"
CSRF_PLACEHOLDER = b"\x00sij-csrf\x00"  # a NUL never occurs in an HTML page we render
CSRF_VALUE = re.compile(rb'(name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+(")')


def enabled() -> bool:
    return settings.SIJ_SEARCH_CACHE_SECONDS > 0


def cacheable(request) -> bool:
    """Whether this request's answer is the same for everyone who sends it (GET or HEAD, anonymous, no messages)."""
    if request.method not in ("GET", "HEAD"):
        return False
    cookies = request.COOKIES
    # A session (every signed-in user has one) or flash messages change the page around the results.
    return settings.SESSION_COOKIE_NAME not in cookies and "messages" not in cookies


def answer_key(request, endpoint: str) -> str:
    raw = "\n".join(
        (
            endpoint,
            translation.get_language() or "",
            request.scheme,
            request.get_host(),
            request.META.get("QUERY_STRING", ""),
            getattr(request, "accepted_media_type", ""),  # the API's negotiated type (e.g. an indent parameter)
        )
    )
    return "answer:" + hashlib.sha256(raw.encode()).hexdigest()


def current_generation(cache, found: dict) -> int:
    generation = found.get(GENERATION_KEY)
    if generation is None:
        # A random start: answers stored under a counter that was evicted can never match the new one.
        cache.add(GENERATION_KEY, secrets.randbits(48), timeout=None)
        generation = cache.get(GENERATION_KEY)
    return generation


def cached_answer(request, endpoint: str, answer):
    """Return `answer()` (an HttpResponse with its content), from the cache when it is on and holds it."""
    if not enabled() or not cacheable(request):
        return answer()
    cache = caches[CACHE_ALIAS]
    key = answer_key(request, endpoint)
    try:
        found = cache.get_many([GENERATION_KEY, key])
        generation = current_generation(cache, found)
    except RedisError as error:  # the search still answers, uncached (nothing about the query is logged)
        logger.warning("Search cache not used: the cache is unreachable (%s)", type(error).__name__)
        return answer()
    stored = found.get(key)
    if stored is not None and stored[0] == generation:
        return rebuilt(request, stored)
    response = answer()
    if storable(response):
        body = CSRF_VALUE.sub(rb"\1" + CSRF_PLACEHOLDER + rb"\2", response.content)
        stored = (generation, response.status_code, response["Content-Type"], body)
        try:
            cache.set(key, stored, settings.SIJ_SEARCH_CACHE_SECONDS)
        except RedisError as error:
            logger.warning("Search answer not cached: the cache is unreachable (%s)", type(error).__name__)
    return response


def storable(response) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and "Cache-Control" not in response
        and "Set-Cookie" not in response
    )


def rebuilt(request, stored) -> HttpResponse:
    _generation, status, content_type, body = stored
    if CSRF_PLACEHOLDER in body:
        # This request's own token (and its CSRF cookie, as a fresh page would set it).
        body = body.replace(CSRF_PLACEHOLDER, get_token(request).encode())
    return HttpResponse(body, status=status, content_type=content_type)


def forget_answers(**_kwargs) -> None:
    """Move the generation on once the change is committed: every answer stored before is ignored from then on."""
    if enabled():
        transaction.on_commit(bump_generation)


def bump_generation() -> None:
    cache = caches[CACHE_ALIAS]
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no counter yet (or evicted): the next search starts a new random one
        pass
    except RedisError as error:  # answers stored before stay until SIJ_SEARCH_CACHE_SECONDS: say so
        logger.warning("Search cache not invalidated: the cache is unreachable (%s)", type(error).__name__)


def connect_signals() -> None:
    """Called from ReferralConfig.ready(), after the search index's receivers (they run first)."""
    specialists_changed.connect(forget_answers, dispatch_uid="referral.response_cache.specialists")
    for model in (Insurance, ZipCode):
        for signal in (post_save, post_delete):
            signal.connect(forget_answers, sender=model, dispatch_uid=f"referral.response_cache.{model.__name__}")
