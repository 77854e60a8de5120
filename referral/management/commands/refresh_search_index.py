from django.core.management.base import BaseCommand

from referral.search_index import refresh_expired_search_entries, sync_search_entries, tidy_search_index


class Command(BaseCommand):
    help = (
        "Bring the patient search index up to date with the directory, in place, then vacuum and analyse it "
        "(run after bulk imports, and daily)."
    )
    # A daily job, not a developer's: Django's system checks (URL patterns, templates, admin, security
    # settings; `manage.py check` and every deploy run them) were a third of its start-up, 0.35 of 1.3 s.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--expired", action="store_true", help="Only rebuild entries whose part-scores have aged (fast, daily)."
        )

    def handle(self, *args, expired=False, **options):
        progress = options["verbosity"] > 0
        if expired:
            written = refresh_expired_search_entries(progress=progress)
            self.stdout.write(self.style.SUCCESS(f"Search index: {written} entries written."))
            return
        refreshed = sync_search_entries(progress=progress)
        tidied = tidy_search_index()  # after the rebuild's transaction has committed
        self.stdout.write(
            self.style.SUCCESS(
                f"Search index: {refreshed.written} entries written, {refreshed.removed} removed, "
                f"{refreshed.unchanged} unchanged; then {tidied}."
            )
        )
