from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from directory.management.commands.make_demo_fixture import build_demo_fixture
from directory.models import RecordSource, Specialist
from referral.models import SearchEntry


@pytest.fixture
def fast_hashing(settings):
    """These tests check who gets which password, not how slowly it is hashed."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_setup_demo(*args):
    out = StringIO()
    call_command("setup_demo", *args, stdout=out)
    return out.getvalue()


def test_setup_demo_loads_an_empty_directory_keeps_edits_on_rerun_and_resets_when_asked(db, settings, fast_hashing):
    settings.DEBUG = True
    output = run_setup_demo()

    demo = Specialist.objects.filter(record_source=RecordSource.DEMO)
    in_fixture = [obj for obj in build_demo_fixture() if obj["model"] == "directory.specialist"]
    assert demo.count() == len(in_fixture)
    assert f"{demo.count()} fictional specialists ({demo.published().count()} published)" in output
    assert "username curator" in output and "password sij-demo-curator" in output
    assert "username physician" in output and "password sij-demo-physician" in output

    curator = User.objects.get(username="curator")
    assert curator.is_staff and not curator.is_superuser
    assert list(curator.groups.values_list("name", flat=True)) == ["Curators"]
    assert curator.check_password("sij-demo-curator")
    physician = User.objects.get(username="physician")
    assert not physician.is_staff
    assert list(physician.groups.values_list("name", flat=True)) == ["Referring physicians"]
    assert physician.check_password("sij-demo-physician")
    verified = demo.filter(verified_at__isnull=False)
    assert verified.exists() and not verified.exclude(verified_by=curator).exists()
    indexed = SearchEntry.objects.values_list("specialist_id", flat=True).distinct()
    assert set(indexed) == set(demo.published().values_list("pk", flat=True))  # patients can find them

    # Someone played with the demo: a changed password, a locked account, an edited profile.
    curator.set_password("something-else-entirely")
    curator.is_active = False
    curator.save()
    edited = demo.first()
    demo.filter(pk=edited.pk).update(last_name="Edited")

    kept = run_setup_demo()  # what `dev.py run` does on every start: the directory is not empty, so keep it
    assert f"already holds {demo.count()} specialists: kept as it is" in kept
    assert "--reset-demo" in kept and "username curator" in kept
    curator.refresh_from_db()
    assert not curator.is_active and curator.check_password("something-else-entirely")
    assert demo.get(pk=edited.pk).last_name == "Edited"

    assert run_setup_demo("--reset") == output
    curator.refresh_from_db()
    assert curator.is_active and curator.check_password("sij-demo-curator")
    assert demo.get(pk=edited.pk).last_name == edited.last_name
    assert User.objects.filter(username__in=["curator", "physician"]).count() == 2
    assert demo.count() == len(in_fixture)


def test_setup_demo_refuses_to_run_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1.*--force"):
        run_setup_demo()
    assert not Specialist.objects.exists()
    assert not User.objects.filter(username__in=["curator", "physician"]).exists()


def test_setup_demo_runs_without_debug_when_forced(db, settings, fast_hashing):
    settings.DEBUG = False
    run_setup_demo("--force")
    assert Specialist.objects.filter(record_source=RecordSource.DEMO).count() >= 150
    assert User.objects.get(username="curator").check_password("sij-demo-curator")


def test_setup_demo_does_not_load_into_a_directory_with_other_specialists(db, settings):
    from tests.factories import SpecialistFactory

    settings.DEBUG = True
    SpecialistFactory()
    output = run_setup_demo()
    assert "already holds 1 specialist: kept as it is" in output
    assert not Specialist.objects.filter(record_source=RecordSource.DEMO).exists()
