"""The JSON API's plumbing, shared by every view under /api/ (settings.REST_FRAMEWORK names these).

Every answer under /api/ is JSON, errors included, in one shape: {"errors": {field: [message, …]}}, where
the field is the query parameter or body key at fault, or one of "authorization", "csrf", "method", "body",
"content_type", "throttle", "path", "server". DRF's exceptions come here through `exception_handler`; a
URL under /api/ that matches no route, or an error outside DRF, through the JSON handler404/handler500.
"""

import json

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, parsers, status, throttling
from rest_framework.response import Response
from rest_framework.settings import api_settings

from config.health import UNAVAILABLE_MESSAGE
from config.security import client_ip

API_PREFIX = "/api/"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The body is too large."
    default_code = "too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = UNAVAILABLE_MESSAGE
    default_code = "unavailable"


def body_limit_message() -> str:
    return f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with Django's body size limit (DRF reads the stream past it) and no 500 on deep nesting."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            raise PayloadTooLarge({"body": [body_limit_message()]})
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(stream.read().decode(encoding), parse_constant=reject_constant)
        except RecursionError:
            raise exceptions.ParseError({"body": ["The JSON is nested too deeply."]}) from None
        except (ValueError, UnicodeDecodeError):
            raise exceptions.ParseError({"body": ["Send a JSON object."]}) from None


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")  # json.loads takes NaN and Infinity unless told not to


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's per-scope throttle (per user when signed in, else per client address), reading its rates when
    asked: DRF's own class copies them at import, so settings changed later (tests, reloads) would not apply."""

    @property
    def THROTTLE_RATES(self):  # noqa: N802 - DRF's attribute name
        return api_settings.DEFAULT_THROTTLE_RATES

    def get_ident(self, request):
        """The client address the pages' rate limits and the lock-out use (trusted proxies only)."""
        return client_ip(request)


def error_key(exc) -> str:
    """Return the key under which an error without a field of its own is reported."""
    for kinds, key in (
        ((exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied), "authorization"),
        ((exceptions.MethodNotAllowed,), "method"),
        ((exceptions.ParseError, PayloadTooLarge), "body"),
        ((exceptions.UnsupportedMediaType, exceptions.NotAcceptable), "content_type"),
        ((exceptions.Throttled,), "throttle"),
        ((exceptions.NotFound,), "path"),
    ):
        if isinstance(exc, kinds):
            return key
    return "server"


def flatten(detail, prefix="") -> dict:
    """Return DRF's error detail as {field: [messages]}; nested fields get dotted names ("situation.months")."""
    if isinstance(detail, dict):
        errors = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                errors.update(flatten(value, name))
            else:
                errors[name] = [str(message) for message in (value if isinstance(value, list) else [value])]
        return errors
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "body": [str(message) for message in messages]}


def plain_message(exc, request) -> str:
    """Return the message of an error that names no field, in the words of the old hand-written API."""
    if isinstance(exc, exceptions.NotAuthenticated):
        return "Sign in, or send 'Authorization: Token <key>'."
    if isinstance(exc, exceptions.MethodNotAllowed) and request is not None:
        return f"{request.method} is not allowed here; use {', '.join(allowed_methods(request))}."
    if isinstance(exc, exceptions.Throttled):
        return f"Too many requests; try again in {exc.wait:.0f} seconds." if exc.wait else "Too many requests."
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return "Send the body as JSON (Content-Type: application/json)."
    return str(exc.detail)


def allowed_methods(request) -> list[str]:
    view = request.parser_context.get("view") if hasattr(request, "parser_context") else None
    methods = view.allowed_methods if view is not None else []
    return [method for method in methods if method not in ("HEAD", "OPTIONS")]


def exception_handler(exc, context):
    """Answer every error raised in an API view as {"errors": {field: [messages]}} with its status."""
    request = context.get("request")
    headers = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # Django's own check, when DRF reads the body through it
        exc = PayloadTooLarge({"body": [body_limit_message()]})
    elif isinstance(exc, OperationalError | InterfaceError):  # the database is down or refused us
        exc = ServiceUnavailable()
        headers["Retry-After"] = str(settings.SIJ_RETRY_AFTER_SECONDS)  # as config.health's 503s
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django logs it and answers with handler500 (JSON here)

    if isinstance(exc.detail, dict | list) and not isinstance(exc, exceptions.Throttled):
        errors = flatten(exc.detail)
    else:
        errors = {error_key(exc): [plain_message(exc, request)]}
    if isinstance(exc, exceptions.MethodNotAllowed) and request is not None:
        headers["Allow"] = ", ".join(context["view"].allowed_methods)
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        headers["Retry-After"] = str(max(1, round(exc.wait)))
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    return Response({"errors": errors}, status=exc.status_code, headers=headers)


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def handler404(request, exception=None):
    """Answer an unknown URL under /api/ as JSON, and every other one with the HTML 404 page."""
    if is_api(request):
        return JsonResponse({"errors": {"path": ["No such API route."]}}, status=404)
    return defaults.page_not_found(request, exception)


def handler500(request):
    """Answer an unexpected error under /api/ as JSON (no details), and every other one with the HTML page."""
    if is_api(request):
        return JsonResponse({"errors": {"server": ["Something went wrong on our side; please try again."]}}, status=500)
    return defaults.server_error(request)
