import time

from django.core.management.base import BaseCommand
from django.db import transaction

from directory.importers.zipcodes import load_zipcodes


class Command(BaseCommand):
    help = "Load or refresh every US ZIP centroid from the offline `zipcodes` package (keeps curator corrections)."

    def handle(self, *args, **options):
        started = time.perf_counter()
        self.stdout.write("Loading US ZIP centroids…")
        with transaction.atomic():
            result = load_zipcodes()
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.loaded:,} ZIP codes, kept {result.kept_corrections} curator corrections "
                f"in {time.perf_counter() - started:.1f} s."
            )
        )
