import tempfile
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from directory.history import add_baseline_history
from directory.management.commands.make_demo_fixture import build_demo_fixture, dump_fixture
from directory.models import Practice, RecordSource, Specialist

# Published in the README: only ever for a development machine.
DEMO_ACCOUNTS = [
    # role, username, password, staff, group
    ("Curator", "curator", "sij-demo-curator", True, "Curators"),
    ("Referring physician", "physician", "sij-demo-physician", False, "Referring physicians"),
]


class Command(BaseCommand):
    help = (
        "Load the fictional demo directory, dated relative to today, into an empty directory and create the demo "
        "curator and referring physician accounts; a directory that holds specialists is kept as it is unless "
        "--reset is given. Development only."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (creates accounts with known passwords)."
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Load the demo even into a directory that holds specialists: the demo rows and the demo accounts' "
            "passwords go back to the fixture's (edits to them are lost; other rows are kept).",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "setup_demo creates accounts with published passwords, so it runs only with DJANGO_DEBUG=1. "
                "Pass --force to run it anyway (never on a public server)."
            )
        held = Specialist.objects.count()
        if held and not options["reset"]:
            specialists = f"{held} specialist{'s' if held != 1 else ''}"
            self.stdout.write(
                f"The directory already holds {specialists}: kept as it is, with your edits. To put the demo rows "
                "and demo passwords back: python3 dev.py run --reset-demo (manage.py setup_demo --reset)."
            )
            self.write_logins("Demo logins, unless you changed them (development only):")
            return
        with transaction.atomic(), tempfile.TemporaryDirectory() as folder:
            load_demo_fixture(Path(folder) / "demo.json")
            users = {
                username: ensure_account(username, password, staff, group)
                for _role, username, password, staff, group in DEMO_ACCOUNTS
            }
            demo = Specialist.objects.filter(record_source=RecordSource.DEMO)
            # The fixture cannot name a user; the demo curator stands for whoever verified the demo profiles.
            demo.filter(verified_at__isnull=False, verified_by__isnull=True).update(verified_by=users["curator"])
            add_baseline_history()  # fixtures load without model saves, so without history
            # The patient search index follows model saves; update() skips them and raw (fixture) saves need
            # not trigger them, so rebuild it once here.
            call_command("refresh_search_index", verbosity=0, stdout=StringIO())

        practices = Practice.objects.filter(specialists__in=demo).distinct()
        cities = practices.values_list("city", "state").distinct().count()
        states = practices.values_list("state", flat=True).distinct().count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo directory loaded: {demo.count()} fictional specialists ({demo.published().count()} published) "
                f"at {practices.count()} practices in {cities} cities across {states} states."
            )
        )
        self.write_logins("Demo logins (development only; the passwords are public):")

    def write_logins(self, title):
        self.stdout.write(title)
        where = {"curator": reverse("admin:index"), "physician": reverse(settings.LOGIN_URL)}
        for role, username, password, _staff, _group in DEMO_ACCOUNTS:
            self.stdout.write(
                f"  {role + ':':<21} username {username:<10} password {password:<19} at {where[username]}"
            )


def ensure_account(username, password, is_staff, group_name) -> User:
    """Create or reset a demo account: active, with the known password, in its group."""
    user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
    user.is_active = True
    user.is_staff = is_staff
    user.set_password(password)
    user.save()
    user.groups.add(Group.objects.get_or_create(name=group_name)[0])
    return user


def load_demo_fixture(path: Path) -> None:
    """Build the demo directory for today (its counts are always the past year's) and `loaddata` it."""
    path.write_text(dump_fixture(build_demo_fixture()))
    call_command("loaddata", path, verbosity=0)
