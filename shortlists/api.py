"""JSON API under /api/v1/shortlists: referring physicians' shortlists.

Auth (settings.REST_FRAMEWORK): a personal API token sent as `Authorization: Token <key>` (no CSRF: nothing
a browser adds on its own), or the session (unsafe methods need the CSRF token, as the pages do). Every
route looks the list up through Shortlist.objects.owned_by(user), so other users get 404.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from referral.serializers import ErrorsSerializer
from shortlists.models import Shortlist
from shortlists.serializers import (
    ShortlistInputSerializer,
    ShortlistListSerializer,
    ShortlistSerializer,
)
from shortlists.views import is_referring_physician

DENIED = {
    401: OpenApiResponse(ErrorsSerializer, description="Not signed in, or a bad token"),
    403: OpenApiResponse(ErrorsSerializer, description="Not a referring physician, or the CSRF check failed"),
    429: OpenApiResponse(ErrorsSerializer, description="Too many requests; see Retry-After"),
}
INVALID = {400: OpenApiResponse(ErrorsSerializer, description="A field is invalid, unknown, or the body too deep")}
MISSING = {404: OpenApiResponse(ErrorsSerializer, description="No such shortlist of yours")}


class IsReferringPhysician(permissions.BasePermission):
    message = "Shortlists are for referring physicians."

    def has_permission(self, request, view):
        return is_referring_physician(request.user)


class ShortlistListView(GenericAPIView):
    """My shortlists, most recently changed first; or create one."""

    permission_classes = (IsReferringPhysician,)
    throttle_scope = "shortlists"
    http_method_names = ["get", "post"]
    serializer_class = ShortlistSerializer

    @extend_schema(operation_id="listShortlists", responses={200: ShortlistListSerializer, **DENIED})
    def get(self, request):
        shortlists = list(Shortlist.objects.owned_by(request.user).with_item_count())
        data = {"count": len(shortlists), "results": shortlists}
        return Response(ShortlistListSerializer(data, context=self.get_serializer_context()).data)

    @extend_schema(
        operation_id="createShortlist",
        request=ShortlistInputSerializer,
        responses={201: ShortlistSerializer, **INVALID, **DENIED},
    )
    def post(self, request):
        body = ShortlistInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        shortlist = body.save(owner=request.user)
        headers = {"Location": request.build_absolute_uri(f"{request.path}/{shortlist.pk}")}
        return Response(self.get_serializer(shortlist).data, status=status.HTTP_201_CREATED, headers=headers)


class ShortlistDetailView(GenericAPIView):
    """One of my shortlists with its items: read, change or delete it."""

    permission_classes = (permissions.IsAuthenticated,)  # anyone else's list, or a non-physician: 404
    throttle_scope = "shortlists"
    http_method_names = ["get", "patch", "delete"]
    serializer_class = ShortlistSerializer

    def get_object(self) -> Shortlist:
        user = self.request.user
        shortlists = Shortlist.objects.owned_by(user) if is_referring_physician(user) else Shortlist.objects.none()
        shortlist = shortlists.filter(pk=self.kwargs["pk"]).first()
        if shortlist is None:
            raise NotFound({"shortlist": ["Not found."]})
        return shortlist

    @extend_schema(operation_id="getShortlist", responses={200: ShortlistSerializer, **DENIED, **MISSING})
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        operation_id="updateShortlist",
        summary="Change the keys sent; a new origin or situation recomputes distances and reasons",
        request=ShortlistInputSerializer,
        responses={200: ShortlistSerializer, **INVALID, **DENIED, **MISSING},
    )
    def patch(self, request, pk):
        shortlist = self.get_object()
        body = ShortlistInputSerializer(shortlist, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        return Response(self.get_serializer(body.save()).data)

    @extend_schema(
        operation_id="deleteShortlist",
        responses={204: OpenApiResponse(description="Deleted, with its share links"), **DENIED, **MISSING},
    )
    def delete(self, request, pk):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
