from django.urls import path

from referral.fhir import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="metadata"),
    path("<str:kind>", views.TypeView.as_view(), name="type"),
    path("<str:kind>/<str:resource_id>", views.InstanceView.as_view(), name="instance"),
]
