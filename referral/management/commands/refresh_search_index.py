from django.core.management.base import BaseCommand

from referral.search_index import refresh_expired_search_entries, refresh_search_entries


class Command(BaseCommand):
    help = "Rebuild the patient search index from the directory (run after bulk imports, and daily)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--expired", action="store_true", help="Only rebuild entries whose part-scores have aged (fast, daily)."
        )

    def handle(self, *args, expired=False, **options):
        progress = options["verbosity"] > 0
        written = (
            refresh_expired_search_entries(progress=progress) if expired else refresh_search_entries(progress=progress)
        )
        self.stdout.write(self.style.SUCCESS(f"Search index: {written} entries written."))
