"""Request-level security shared by every app: who the client is, rate limits, no caching of signed-in pages.

The rules, their settings and the tests that show them are listed in docs/security.md.
"""

import ipaddress
import logging
from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def client_ip(request) -> str:
    """Return the client's address: REMOTE_ADDR, or the X-Forwarded-For entry the trusted proxies vouch for.

    Each of the DJANGO_TRUSTED_PROXY_COUNT proxies appends the address it received the request from, so the
    client is the N-th entry from the right (as Werkzeug's ProxyFix `x_for=N`); entries left of it are whatever
    the client chose to send. django-ipware's proxy count reads the chain differently (it returns None or the
    left-most entry for a chain with extra entries), which would let a client pick its own lock-out key.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.SIJ_TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [entry for entry in forwarded if entry]
    if len(forwarded) < count:
        return remote  # the request did not pass through every proxy
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def posted_email(group, request) -> str:
    """Rate-limit key: the email address a form posted, as the password reset looks it up."""
    return request.POST.get("email", "").strip().lower()


def too_many_requests(request, retry_after: int):
    response = render(request, "429.html", {"retry_minutes": max(1, round(retry_after / 60))}, status=429)
    response["Retry-After"] = str(max(1, retry_after))
    return response


def rate_limit(group: str, rate_setting: str, *, key="ip", methods=("POST",)):
    """Answer 429 with Retry-After once a client (or `key`) passes the rate `settings.<rate_setting>` for `group`.

    Counters live in the default cache: Redis when CACHE_URL is set (shared by every process), local memory
    otherwise (each process counts on its own). If Redis is unreachable the request is let through: a broken
    counter must not take the site down.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                usage = get_usage(
                    request,
                    group=group,
                    key=key,
                    rate=getattr(settings, rate_setting),
                    method=list(methods),
                    increment=True,
                )
            except RedisError as error:
                logger.warning("Rate limit %s not checked: the cache is unreachable (%s)", group, type(error).__name__)
                usage = None
            if usage and usage["should_limit"]:
                return too_many_requests(request, usage["time_left"])
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class NoStoreWhenSignedInMiddleware:
    """Mark every response to a signed-in user or token holder `Cache-Control: no-store`, JSON and files included.

    Shortlists, notes and tokens must not stay in a shared or browser cache after the physician leaves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if "Authorization" in request.headers or (user is not None and user.is_authenticated):
            add_never_cache_headers(response)
        return response
