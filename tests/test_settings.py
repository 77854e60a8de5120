"""Settings in a fresh process, with only the environment a deployment would give it."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_ALLOWED_HOSTS": "sij.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://sij.example.org",
}


def run_django(args, **env):
    """Run `python <args>` in the project folder with the settings variables set to exactly `env`."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SIJ_", "AXES_")) and not name.startswith(("DATABASE_", "EMAIL_"))
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("behind_proxy", ["", "1"])
def test_check_deploy_reports_no_issues_with_production_environment(behind_proxy):
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_BEHIND_PROXY": behind_proxy}
    result = run_django(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("debug", [None, "0", "false"])
def test_settings_refuse_to_start_without_a_secret_key_in_production(debug):
    env = {**PRODUCTION_ENV} if debug is None else {**PRODUCTION_ENV, "DJANGO_DEBUG": debug}
    result = run_django(["-c", "import django; django.setup()"], **env)
    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for local development)." in result.stderr


def test_development_starts_without_a_secret_key():
    result = run_django(["-c", "import django; django.setup(); print('started')"], DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_replica_urls_add_one_read_alias_each():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SIJ_READ_REPLICAS, "
        "[(s.DATABASES[a]['HOST'], s.DATABASES[a]['TEST']['MIRROR']) for a in s.SIJ_READ_REPLICAS])"
    )
    urls = "postgres://reader@replica-a:5432/sij, postgres://reader@replica-b:5432/sij"
    result = run_django(["-c", script], DJANGO_DEBUG="1", DATABASE_REPLICA_URLS=urls)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("['replica1', 'replica2'] [('replica-a', 'default'), ('replica-b', 'default')]")
