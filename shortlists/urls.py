from django.urls import path

from shortlists import api, views

app_name = "shortlists"
urlpatterns = [
    # Accounts
    path("accounts/request/", views.account_request, name="account-request"),
    path("accounts/request/sent/", views.account_request_done, name="account-request-done"),
    # Shortlists
    path("shortlists/", views.shortlist_list, name="shortlist-list"),
    path("shortlists/new/", views.shortlist_create, name="shortlist-create"),
    path("shortlists/add/", views.shortlist_add, name="shortlist-add"),
    path("shortlists/api-token/", views.api_token, name="api-token"),
    path("shortlists/shared/<str:token>/", views.shortlist_shared, name="shortlist-shared"),
    path("shortlists/<int:pk>/", views.shortlist_detail, name="shortlist-detail"),
    path("shortlists/<int:pk>/rename/", views.shortlist_rename, name="shortlist-rename"),
    path("shortlists/<int:pk>/delete/", views.shortlist_delete, name="shortlist-delete"),
    path("shortlists/<int:pk>/items/<int:item_pk>/move/", views.item_move, name="shortlist-item-move"),
    path("shortlists/<int:pk>/items/<int:item_pk>/note/", views.item_note, name="shortlist-item-note"),
    path("shortlists/<int:pk>/items/<int:item_pk>/remove/", views.item_remove, name="shortlist-item-remove"),
    path("shortlists/<int:pk>/share/", views.share_create, name="shortlist-share"),
    path("shortlists/<int:pk>/share/<int:link_pk>/revoke/", views.share_revoke, name="shortlist-share-revoke"),
    path("shortlists/<int:pk>/export.csv", views.export_csv, name="shortlist-export-csv"),
    path("shortlists/<int:pk>/export.pdf", views.export_pdf, name="shortlist-export-pdf"),
    path("shortlists/<int:pk>/export.fhir.json", views.export_fhir, name="shortlist-export-fhir"),
    # JSON API
    path("api/v1/shortlists", api.ShortlistListView.as_view(), name="api-shortlists"),
    path("api/v1/shortlists/<int:pk>", api.ShortlistDetailView.as_view(), name="api-shortlist"),
]
