from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from directory.history import add_baseline_history
from directory.importers.nppes import import_nppes
from directory.importers.streaming import ImportFileError


class Command(BaseCommand):
    help = (
        "Apply an NPPES NPI file (the monthly full npidata_pfile_….csv, a weekly update, or their .zip) to the "
        "directory: update known specialists, queue new ones for review, unpublish deactivated NPIs."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="npidata_pfile_….csv, or the NPPES .zip that contains it")
        parser.add_argument(
            "--atomic", action="store_true", help="Stop without changing anything at the first malformed row."
        )

    def handle(self, *args, **options):
        try:
            result = import_nppes(options["path"], atomic=options["atomic"])
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        for line in result.summary():
            self.stdout.write(line)
        # The bulk writes make no history rows: give the rows this import created their baseline entry.
        baselines = add_baseline_history(reason=f"Baseline: created by the NPPES import of {options['path'].name}")
        self.stdout.write(f"History: {baselines:,} baseline entries for new rows.")
        self.stdout.write(self.style.SUCCESS("Done."))
