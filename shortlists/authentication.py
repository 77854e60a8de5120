"""How the shortlist API and the export URLs know the physician: a personal API token, or the session."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from shortlists.models import ApiToken, hash_token

INVALID_TOKEN = "Invalid token; send 'Authorization: Token <key>'."


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>`: the key is looked up by its hash (ApiToken keeps no key), its use recorded.

    No CSRF check: a browser never adds this header by itself. Another scheme (Bearer, Basic) is not ours
    and falls through to the session, as DRF's own TokenAuthentication does.
    """

    keyword = "token"

    def authenticate(self, request):
        scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != self.keyword:
            return None
        return self.authenticate_credentials(key.strip())

    def authenticate_credentials(self, key: str):
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(key)).first() if key else None
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request):
        return "Token"  # so that a missing or bad token is a 401, not a 403


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session; changes need the CSRF token, as the pages do (DRF checks it)."""

    def enforce_csrf(self, request):
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied:
            message = "CSRF check failed: send the csrftoken cookie's value as X-CSRFToken."
            raise exceptions.PermissionDenied({"csrf": [message]}) from None


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document describes ApiTokenAuthentication."""

    target_class = ApiTokenAuthentication
    name = "token"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token <key>"}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = SessionAuthentication
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "Plus X-CSRFToken on changes"}
