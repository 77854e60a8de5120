"""SIJ Finder settings: one file, configured by environment variables (see README)."""

import os
import sys
from importlib.util import find_spec
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for local development).")
    SECRET_KEY = "insecure-development-only-key"  # noqa: S105 - only ever used with DEBUG on

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "simple_history",
    "axes",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for /api/v1/docs/, from a wheel: no CDN
    "directory",
    "referral",
    "shortlists",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Patient pages in English or Spanish (the switcher's cookie, else Accept-Language); the API, FHIR, the admin
    # and the physicians' pages stay English (config/i18n.py).
    "config.i18n.PatientLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.security.NoStoreWhenSignedInMiddleware",
    # Outside the views' transactions: a request's changes refresh each specialist's search entries once.
    "directory.middleware.batch_changes_middleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "config.context_processors.map_tiles",
                "config.context_processors.patient_page",
                "referral.guide.guide",
            ],
        },
    },
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
if database_url := os.environ.get("DATABASE_URL"):
    DATABASES["default"] = dj_database_url.parse(database_url, conn_max_age=600, conn_health_checks=True)
# Read replicas (comma-separated URLs): the patient search and public profiles read there (directory/replicas.py).
SIJ_READ_REPLICAS = []
for _number, _url in enumerate(filter(None, os.environ.get("DATABASE_REPLICA_URLS", "").split(",")), start=1):
    SIJ_READ_REPLICAS.append(f"replica{_number}")
    DATABASES[f"replica{_number}"] = {
        **dj_database_url.parse(_url.strip(), conn_max_age=600, conn_health_checks=True),
        "TEST": {"MIRROR": "default"},  # tests read the test database through the replica alias
    }
DATABASE_ROUTERS = ["directory.replicas.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # throttles repeated failed logins
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Security: client address, lock-out, rate limits, CSP (docs/security.md) ---------------------------------
# Behind N reverse proxies that each append to X-Forwarded-For, the client is the N-th address from the right;
# with 0 (the default) the header is ignored, since anyone can send it.
SIJ_TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "0"))
# Lock one username from one client only: a guesser locks neither other users nor that user elsewhere.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Counters are shared by every process when a Redis URL is given; otherwise each process counts on its own.
if cache_url := os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL"):  # redis://host:6379/0
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache_url}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The optional cache of whole search answers (referral/response_cache.py): seconds an answer is kept, 0 (the
# default) for none. It is the default cache's server under its own key prefix; in local memory, each process
# keeps up to 1,000 answers (a results page is about 40 KB).
SIJ_SEARCH_CACHE_SECONDS = int(os.environ.get("SIJ_SEARCH_CACHE_SECONDS", "0"))
CACHES["search"] = {
    **CACHES["default"],
    "KEY_PREFIX": os.environ.get("SIJ_SEARCH_CACHE_PREFIX", "sij-search"),
    **({} if cache_url else {"LOCATION": "sij-search", "OPTIONS": {"MAX_ENTRIES": 1000}}),
}
# Each process keeps a copy of the search index in memory for the circle's counting (referral/resident.py):
# about 170 bytes a row, 22 MB at 130,000 rows; read again after every write to the index. 0 turns it off (the
# database counts instead: the same results, slower for large circles).
SIJ_SEARCH_IN_MEMORY = os.environ.get("SIJ_SEARCH_IN_MEMORY", "1") != "0"
RATELIMIT_IP_META_KEY = "config.security.client_ip"
# Requests per client address ("N/s", "N/m", "N/h", "N/d"); SIJ_RATE_SEARCH also serves the search API.
SIJ_RATE_SEARCH = os.environ.get("SIJ_RATE_SEARCH", "60/m")
SIJ_RATE_API = os.environ.get("SIJ_RATE_API", "120/m")  # other API calls, per client or token
SIJ_RATE_LOGIN = os.environ.get("SIJ_RATE_LOGIN", "30/h")  # sign-in attempts per address, any username
SIJ_RATE_ACCOUNT_REQUEST = os.environ.get("SIJ_RATE_ACCOUNT_REQUEST", "5/h")
SIJ_RATE_PASSWORD_RESET = os.environ.get("SIJ_RATE_PASSWORD_RESET", "10/h")  # per client address
SIJ_RATE_PASSWORD_RESET_EMAIL = os.environ.get("SIJ_RATE_PASSWORD_RESET_EMAIL", "3/h")  # per email address
# No inline script or style and nothing from another origin; extra image origins (e.g. a map tile server) by env.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *env_list("DJANGO_CSP_IMG_SRC", "")],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # locale/es/LC_MESSAGES/django.po and the compiled .mo, both committed
# Spanish numbers as written in the United States (and Mexico): 2.4 miles, 1,250 (config/formats/es/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "America/Chicago"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Leaflet's own files, from the django-leaflet wheel (served as /static/leaflet/…); no CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("leaflet", Path(find_spec("leaflet").submodule_search_locations[0]) / "static" / "leaflet"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if email_url := os.environ.get("EMAIL_URL"):  # smtp://user:password@host:587
    from urllib.parse import unquote, urlsplit

    _email = urlsplit(email_url)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname
    EMAIL_PORT = _email.port or 587
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_TLS = _email.scheme != "smtp+plain"
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "SIJ Finder <noreply@localhost>")

# Production hardening; `manage.py check --deploy` is clean with DJANGO_DEBUG unset and HTTPS on.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY") else None
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Domain settings
# "Past year" = the latest 12-month count whose period ended within this many months of today.
SIJ_VOLUME_WINDOW_MONTHS = int(os.environ.get("SIJ_VOLUME_WINDOW_MONTHS", "24"))
SIJ_VERIFICATION_MAX_MONTHS = int(os.environ.get("SIJ_VERIFICATION_MAX_MONTHS", "12"))  # then a profile is due
SIJ_RANKING_WEIGHTS = {}  # overrides of referral.ranking.DEFAULT_WEIGHTS, by criterion key
SIJ_SHARE_LINK_DAYS = int(os.environ.get("SIJ_SHARE_LINK_DAYS", "30"))
# The results map's background tiles: none by default, so a search sends the patient's address to no third
# party (docs/operations.md "Map tiles"). E.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png with its attribution.
# Directions links on cards and profiles (directory/links.py): openstreetmap, google, apple, geo, or off.
SIJ_DIRECTIONS = os.environ.get("SIJ_DIRECTIONS", "openstreetmap").strip().lower()
if SIJ_DIRECTIONS not in ("openstreetmap", "google", "apple", "geo", "off"):
    raise ImproperlyConfigured("SIJ_DIRECTIONS must be openstreetmap, google, apple, geo or off.")
SIJ_MAP_TILE_URL = os.environ.get("SIJ_MAP_TILE_URL", "")
SIJ_MAP_TILE_ATTRIBUTION = os.environ.get("SIJ_MAP_TILE_ATTRIBUTION", "")

# --- JSON API (Django REST Framework + drf-spectacular) ------------------------------------------------
# Plumbing in config/api.py: one JSON error shape, the body limit, throttles. Public patient views set no
# authentication; the shortlist API takes the API token or the session (with CSRF).
# Request bodies (and form posts) above this are refused: 413 JSON on the API.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", str(1024 * 1024)))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "shortlists.authentication.ApiTokenAuthentication",
        "shortlists.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],  # no browsable API
    "DEFAULT_PARSER_CLASSES": ["config.api.JSONParser"],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "NON_FIELD_ERRORS_KEY": "body",
    "DEFAULT_THROTTLE_CLASSES": ["config.api.ScopedRateThrottle"],
    # Per client address (per user when signed in), counted in the default cache: shared between processes
    # only when that cache is (Redis); in local memory the limit is per process.
    "DEFAULT_THROTTLE_RATES": {
        "search": SIJ_RATE_SEARCH,  # the search and profile API, as the search page
        "shortlists": SIJ_RATE_API,
    },
    "DATETIME_FORMAT": None,  # datetimes as stored (UTC), ISO 8601 by the JSON renderer
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SIJ Finder API",
    "VERSION": "1",
    "DESCRIPTION": (
        "Find SI-joint specialists near a US ZIP code, ranked by the criteria in docs/ranking.md; referring "
        "physicians' shortlists. Information, not medical advice. Every error is JSON and names the field: "
        '{"errors": {field: [message]}}.'
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "deepLinking": True},  # no call to validator.swagger.io
    "ENUM_NAME_OVERRIDES": {
        "SpecialtyEnum": "directory.models.Specialty",
        "ServiceEnum": "directory.models.Service",
        "ProcedureEnum": "directory.models.Procedure",
        "VolumeSourceEnum": "directory.models.VolumeSource",
    },
}

# Street-address geocoding of practices (directory/geocoding.py, docs/operations.md). Off when SIJ_GEOCODER is
# empty: then no address leaves the machine. Any geopy service name works ("nominatim", "pelias", "photon", …).
SIJ_GEOCODER = os.environ.get("SIJ_GEOCODER", "").strip().lower()
SIJ_GEOCODER_URL = os.environ.get("SIJ_GEOCODER_URL", "")  # e.g. https://nominatim.example.org (own server)
SIJ_GEOCODER_USER_AGENT = os.environ.get("SIJ_GEOCODER_USER_AGENT", "")  # name + contact, as Nominatim asks
SIJ_GEOCODER_API_KEY = os.environ.get("SIJ_GEOCODER_API_KEY", "")  # for services that need one
SIJ_GEOCODER_MIN_DELAY_SECONDS = float(os.environ.get("SIJ_GEOCODER_MIN_DELAY_SECONDS", "1"))  # Nominatim: 1/s
SIJ_GEOCODER_TIMEOUT_SECONDS = float(os.environ.get("SIJ_GEOCODER_TIMEOUT_SECONDS", "10"))

# Problem reports from profile pages (directory.ProfileReport): at most this many per client address per hour.
SIJ_REPORTS_PER_HOUR = int(os.environ.get("SIJ_REPORTS_PER_HOUR", "5"))
# The public address of this site: the FHIR API's canonical URLs (CodeSystems, extensions) live under
# SIJ_SITE_URL + "/fhir/" (docs/fhir.md), and directory profile links in FHIR resources start with it.
SIJ_SITE_URL = os.environ.get("SIJ_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SIJ_RATE_FHIR = os.environ.get("SIJ_RATE_FHIR", "60/m")  # requests per client address to /fhir/

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # runserver's request lines, like gunicorn's access log (gunicorn.conf.py), keep the path and drop the query
    # string: search URLs carry the patient's ZIP and situation.
    "filters": {"drop_query_strings": {"()": "config.logs.DropQueryStrings"}},
    "loggers": {
        "django.server": {
            "handlers": ["console"],
            "filters": ["drop_query_strings"],
            "level": "INFO",
            "propagate": False,
        }
    },
}

# --- Database faults (config/health.py; docs/operations.md "Database faults") ---
# A web process (config/wsgi.py sets SIJ_WEB_PROCESS; runserver counts too) gives each database call
# SIJ_DB_TIMEOUT seconds: PostgreSQL cancels a longer statement, and a call the server does not answer at all is
# cut by config.health's watchdog; the request then answers 503. Commands (imports, migrations) are not limited.
SIJ_WEB_PROCESS = env_bool("SIJ_WEB_PROCESS") or sys.argv[1:2] == ["runserver"]
SIJ_DB_TIMEOUT = float(os.environ.get("SIJ_DB_TIMEOUT", "5"))
SIJ_DB_CONNECT_TIMEOUT = int(os.environ.get("SIJ_DB_CONNECT_TIMEOUT", "3"))
SIJ_RETRY_AFTER_SECONDS = int(os.environ.get("SIJ_RETRY_AFTER_SECONDS", "30"))
_database = DATABASES["default"]
_database_options = _database.setdefault("OPTIONS", {})
if _database["ENGINE"] == "django.db.backends.postgresql":
    _database_options.setdefault("connect_timeout", SIJ_DB_CONNECT_TIMEOUT)
    if SIJ_WEB_PROCESS:
        _database_options.setdefault("options", f"-c statement_timeout={int(SIJ_DB_TIMEOUT * 1000)}")
elif _database["ENGINE"] == "django.db.backends.sqlite3":
    # How long to wait for another process's write lock before "database is locked".
    _database_options.setdefault("timeout", SIJ_DB_TIMEOUT if SIJ_WEB_PROCESS else 30)
MIDDLEWARE.append("config.health.DatabaseUnavailableMiddleware")  # innermost: sees the view's exceptions first
# Load balancers probe the health endpoints over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# --- end of database faults ---
