import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# A web process: each database call gets SIJ_DB_TIMEOUT seconds (config/settings.py, "Database faults").
os.environ.setdefault("SIJ_WEB_PROCESS", "1")
application = get_wsgi_application()
