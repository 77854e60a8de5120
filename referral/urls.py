from django.urls import path

from referral import api, views

app_name = "referral"
urlpatterns = [
    # Patient pages
    # JSON API
    # Referring physicians: accounts and shortlists
]
