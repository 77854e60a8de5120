from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

from directory.replicas import reads_from_replica
from referral import api, views

app_name = "referral"
urlpatterns = [
    # Patient pages (search and profiles may read from a replica: directory/replicas.py)
    path("", views.home, name="home"),
    path("search/", reads_from_replica(views.search), name="search"),
    path("specialists/<int:pk>/", reads_from_replica(views.specialist_detail), name="specialist-detail"),
    path("specialists/<int:pk>/report/", views.specialist_report, name="specialist-report"),
    path("compare/", reads_from_replica(views.compare), name="compare"),
    path("about/si-joint/", views.about, name="about"),
    # JSON API
    path("api/v1/search", reads_from_replica(api.SearchView.as_view()), name="api-search"),
    path("api/v1/specialists/<int:pk>", reads_from_replica(api.SpecialistView.as_view()), name="api-specialist"),
    # The OpenAPI document (generated from the views, forms, FilterSet and serializers) and Swagger UI
    # served from the drf-spectacular-sidecar wheel; the split view keeps its script out of the page (CSP).
    path("api/v1/schema/", SpectacularJSONAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="referral:api-schema"), name="api-docs"),
]
