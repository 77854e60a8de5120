from django.urls import path  # noqa: F401

from referral import api, views  # noqa: F401

app_name = "referral"
urlpatterns = [
    # Patient pages
    # JSON API
    # Referring physicians: accounts and shortlists
]
