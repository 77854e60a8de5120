from django.urls import path  # noqa: F401

from referral import api, physician_views, views  # noqa: F401

app_name = "referral"
urlpatterns = [
    # Patient pages
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("specialists/<int:pk>/", views.specialist_detail, name="specialist-detail"),
    path("about/si-joint/", views.about, name="about"),
    # JSON API
    path("api/v1/search", api.api_search, name="api-search"),
    path("api/v1/specialists/<int:pk>", api.api_specialist, name="api-specialist"),
    path("api/v1/schema/", api.api_schema, name="api-schema"),
    # Referring physicians: accounts and shortlists
    path("accounts/request/", physician_views.account_request, name="account-request"),
    path("accounts/request/sent/", physician_views.account_request_done, name="account-request-done"),
    path("shortlists/", physician_views.shortlist_list, name="shortlist-list"),
    path("shortlists/new/", physician_views.shortlist_create, name="shortlist-create"),
    path("shortlists/add/", physician_views.shortlist_add, name="shortlist-add"),
    path("shortlists/api-token/", physician_views.api_token, name="api-token"),
    path("shortlists/shared/<str:token>/", physician_views.shortlist_shared, name="shortlist-shared"),
    path("shortlists/<int:pk>/", physician_views.shortlist_detail, name="shortlist-detail"),
    path("shortlists/<int:pk>/rename/", physician_views.shortlist_rename, name="shortlist-rename"),
    path("shortlists/<int:pk>/delete/", physician_views.shortlist_delete, name="shortlist-delete"),
    path("shortlists/<int:pk>/items/<int:item_pk>/move/", physician_views.item_move, name="shortlist-item-move"),
    path("shortlists/<int:pk>/items/<int:item_pk>/note/", physician_views.item_note, name="shortlist-item-note"),
    path("shortlists/<int:pk>/items/<int:item_pk>/remove/", physician_views.item_remove, name="shortlist-item-remove"),
    path("shortlists/<int:pk>/share/", physician_views.share_create, name="shortlist-share"),
    path(
        "shortlists/<int:pk>/share/<int:link_pk>/revoke/", physician_views.share_revoke, name="shortlist-share-revoke"
    ),
    path("shortlists/<int:pk>/export.csv", physician_views.export_csv, name="shortlist-export-csv"),
    path("shortlists/<int:pk>/export.pdf", physician_views.export_pdf, name="shortlist-export-pdf"),
    path("shortlists/<int:pk>/export.fhir.json", physician_views.export_fhir, name="shortlist-export-fhir"),
    path("api/v1/shortlists", api.api_shortlists, name="api-shortlists"),
    path("api/v1/shortlists/<int:pk>", api.api_shortlist, name="api-shortlist"),
]
