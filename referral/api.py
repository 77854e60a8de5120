"""JSON API under /api/v1/: the patient search and published profiles (public, read-only).

The same search form and FilterSet as the page validate the query; errors, throttling and the JSON body
of every error come from settings.REST_FRAMEWORK (config/api.py). The search API logs nothing about the
query: a ZIP with a situation is health information.
"""

from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from directory.models import Specialist
from referral import response_cache
from referral.filters import SpecialistFilterSet
from referral.forms import ApiSearchForm
from referral.matching import find_specialists, match_specialist, profile_queryset
from referral.schema import form_parameters
from referral.serializers import ErrorsSerializer, ProfileSerializer, SearchResponseSerializer, volume_rows

ERRORS = {
    400: OpenApiResponse(ErrorsSerializer, description="A parameter is missing or invalid"),
    429: OpenApiResponse(ErrorsSerializer, description="Too many requests from this client; see Retry-After"),
}

NOT_PUBLISHED = OpenApiResponse(ErrorsSerializer, description="No published specialist with this id")


class PublicApiView(GenericAPIView):
    # Public and anonymous: no session or token is looked up, so every request runs the same queries.
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_scope = "search"
    http_method_names = ["get", "head"]


class SearchView(PublicApiView):
    """Published specialists near a ZIP code, best match first (the patient search)."""

    queryset = Specialist.objects.all()
    filter_backends = (DjangoFilterBackend,)
    filterset_class = SpecialistFilterSet
    serializer_class = SearchResponseSerializer

    @extend_schema(
        operation_id="searchSpecialists",
        filters=True,  # the FilterSet's parameters (drf-spectacular adds them by itself only to list views)
        parameters=form_parameters(ApiSearchForm),
        responses={200: SearchResponseSerializer, **ERRORS},
    )
    def get(self, request):
        return response_cache.cached_answer(request, "api", lambda: self.answer(request))

    def answer(self, request):
        """The search's JSON, rendered here (not by DRF after the view) so that the response cache can keep it."""
        form = ApiSearchForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        result = find_specialists(**form.search_arguments(), queryset=self.filter_queryset(self.get_queryset()))
        shown = [match.specialist.pk for match in [*result.matches, *result.beyond_radius]]
        next_url = None
        if result.has_next:
            query = request.query_params.copy()
            query["page"] = str(result.page + 1)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        page = {
            "origin": result.origin,
            "radius": result.radius_miles,
            "count": result.count,
            "next": next_url,
            "results": result.matches,
            "beyond_radius": result.beyond_radius,
            "volumes": volume_rows(shown),
        }
        renderer = request.accepted_renderer  # as DRF's Response would render it, to the byte
        body = renderer.render(self.get_serializer(page).data, request.accepted_media_type, self.get_renderer_context())
        charset = f"; charset={renderer.charset}" if renderer.charset else ""
        return HttpResponse(body, content_type=renderer.media_type + charset)


class SpecialistView(PublicApiView):
    """One published specialist's profile; with ?zip=… (and a situation) also how they match."""

    serializer_class = ProfileSerializer

    @extend_schema(
        operation_id="getSpecialist",
        parameters=form_parameters(ApiSearchForm, required=False)[:5],  # the ZIP, radius and situation
        responses={
            200: ProfileSerializer,
            **ERRORS,
            404: OpenApiResponse(ErrorsSerializer, description="No published specialist"),
        },
    )
    def get(self, request, pk):
        specialist = profile_queryset().filter(pk=pk).first()
        if specialist is None:
            raise NotFound({"id": [f"No published specialist with id {pk}."]})
        match = None
        if "zip" in request.query_params:
            form = ApiSearchForm(request.query_params)
            if not form.is_valid():
                raise ValidationError(form.errors)
            found = match_specialist(specialist=specialist, origin=form.origin, situation=form.situation)
            match = {
                "origin": form.origin,
                "distance_miles": found.distance_miles if found.practice else None,
                "score": found.score,
                "reasons": found.reasons,
                "facts": found.facts,
            }
        serializer = self.get_serializer(specialist)
        serializer.context["match"] = match
        return Response(serializer.data)
