from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "SIJ Finder curation"
admin.site.site_title = "SIJ Finder admin"
admin.site.index_title = "Specialist directory"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("referral.urls")),
]
