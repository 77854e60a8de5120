"""The public FHIR R4 API under /fhir/: thin DRF views over referral.fhir.search.

Everything FHIR-specific about HTTP is set on FHIRView itself, not in the global REST_FRAMEWORK settings: the
application/fhir+json renderer and FHIR's `_format`, OperationOutcome bodies for every error, no sign-in, and a
per-address rate limit (SIJ_RATE_FHIR). Like the search API, nothing here logs a query: a `near` point or a ZIP
is location data.
"""

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from referral.fhir import search
from referral.fhir.definitions import ARTIFACTS

FHIR_JSON = "application/fhir+json"


class FHIRJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "json"


class PlainJSONRenderer(JSONRenderer):
    """The same body as application/json, for clients that ask for plain JSON."""

    format = "plain-json"


# FHIR's _format values (https://hl7.org/fhir/R4/http.html#mime-type) and the renderer that answers each.
FORMATS = {"json": FHIR_JSON, FHIR_JSON: FHIR_JSON, "application/json": "application/json"}


class FHIRContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        requested = request.query_params.get("_format")
        if requested is None:
            return super().select_renderer(request, renderers, format_suffix)
        media_type = FORMATS.get(requested.replace(" ", "+"))  # an unencoded "+" arrives as a space
        for renderer in renderers:
            if renderer.media_type == media_type:
                return renderer, renderer.media_type
        raise exceptions.NotAcceptable(f"_format={requested} is not supported; this server speaks FHIR JSON only.")


class FHIRRateThrottle(SimpleRateThrottle):
    """Requests per client address; the rate is settings.SIJ_RATE_FHIR (e.g. "60/min")."""

    scope = "fhir"

    def get_rate(self):
        return getattr(settings, "SIJ_RATE_FHIR", "60/min")

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def operation_outcome(status: int, code: str, text: str, param: str | None = None) -> dict:
    issue = {"severity": "error" if status < 500 else "fatal", "code": code, "diagnostics": text}
    if param:
        issue["expression"] = [param]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class FHIRView(APIView):
    authentication_classes = []  # public directory data: no sign-in, no session, no CSRF
    permission_classes = [AllowAny]
    renderer_classes = [FHIRJSONRenderer, PlainJSONRenderer]
    schema = None  # FHIR's own CapabilityStatement (/fhir/metadata) describes it, not the JSON API's OpenAPI
    content_negotiation_class = FHIRContentNegotiation
    throttle_classes = [FHIRRateThrottle]
    http_method_names = ["get", "head", "options"]

    def base_url(self) -> str:
        return self.request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("metadata")

    def handle_exception(self, exc):
        headers = {}
        if isinstance(exc, search.SearchError):
            status, code, text, param = exc.status, exc.code, str(exc), exc.param
        elif isinstance(exc, Http404 | exceptions.NotFound):
            status, code, text, param = 404, "not-found", str(exc) or "Not found.", None
        elif isinstance(exc, exceptions.Throttled):
            status, code, param = 429, "throttled", None
            text = "Too many requests from this address; try again shortly."
            if exc.wait:
                headers["Retry-After"] = str(int(exc.wait) + 1)
        elif isinstance(exc, exceptions.APIException):
            code = {405: "not-supported", 406: "not-supported"}.get(exc.status_code, "processing")
            status, text, param = exc.status_code, str(exc.detail), None
            if isinstance(exc, exceptions.MethodNotAllowed):
                headers["Allow"] = "GET, HEAD"
        else:
            raise exc
        response = Response(operation_outcome(status, code, text, param), status=status, headers=headers)
        response.exception = True
        return response


class MetadataView(FHIRView):
    def get(self, request):
        return Response(search.capability_statement(self.base_url()))


class TypeView(FHIRView):
    """GET /fhir/<type>: search (or, for our CodeSystems and StructureDefinitions, the list of them)."""

    def get(self, request, kind):
        if kind in search.SEARCH:
            lenient = "handling=lenient" in request.headers.get("Prefer", "").replace(" ", "")
            return Response(search.search_bundle(kind, request.query_params, base=self.base_url(), lenient=lenient))
        if kind in {artifact_kind for artifact_kind, _id in ARTIFACTS}:
            return Response(search.artifact_bundle(kind, request.query_params, base=self.base_url()))
        raise search.SearchError(f"{kind} is not a resource type this server offers.", status=404, code="not-supported")


class InstanceView(FHIRView):
    """GET /fhir/<type>/<id>: read one resource."""

    def get(self, request, kind, resource_id):
        if (kind, resource_id) in ARTIFACTS:
            return Response(ARTIFACTS[kind, resource_id]())
        return Response(search.read_resource(kind, resource_id))
