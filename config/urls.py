from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from config import health
from config.security import posted_email, rate_limit

# Unknown URLs and unexpected errors: JSON under /api/, the HTML pages elsewhere.
handler404 = "config.api.handler404"
handler500 = "config.api.handler500"

admin.site.site_header = "SIJ Finder curation"
admin.site.site_title = "SIJ Finder admin"
admin.site.index_title = "Specialist directory"

# Per-address throttles in front of the views that sign in or send mail; the lock-out per username and address
# is django-axes'. The two sign-in forms share one counter.
login_limit = rate_limit("login", "SIJ_RATE_LOGIN")
password_reset = rate_limit("password-reset", "SIJ_RATE_PASSWORD_RESET")(
    rate_limit("password-reset-email", "SIJ_RATE_PASSWORD_RESET_EMAIL", key=posted_email)(
        auth_views.PasswordResetView.as_view()
    )
)

urlpatterns = [
    # Account requests moved from the referral app to shortlists: old admin bookmarks keep working.
    re_path(
        r"^admin/referral/accountrequest/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/shortlists/accountrequest/%(rest)s", query_string=True),
    ),
    # Browsers ask for /favicon.ico on pages without an icon link (the admin, JSON): answer with ours, not a 404.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("img/favicon.svg"))),
    path("admin/login/", login_limit(admin.site.login)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", login_limit(auth_views.LoginView.as_view()), name="login"),
    path("accounts/password_reset/", password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("fhir/", include("referral.fhir.urls")),
    # The language switcher's POST (templates/_language_switch.html): a cookie, then back to the same page.
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("referral.urls")),
    path("", include("shortlists.urls")),
]
