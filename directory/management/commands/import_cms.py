from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from directory.history import add_baseline_history
from directory.importers.cms import import_cms
from directory.importers.streaming import ImportFileError


class Command(BaseCommand):
    help = (
        "Import one year of CMS 'Medicare Physician & Other Practitioners - by Provider and Service' (.csv, .csv.gz "
        "or .zip): SI-joint and lumbar-fusion counts per NPI, replacing that year's earlier import (a file that "
        "would remove most of them needs --replace-year or --only-listed-npis)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="The CMS file, e.g. MUP_PHY_R24_P05_V10_D22_Prov_Svc.csv")
        parser.add_argument(
            "--year",
            type=int,
            help="The data year; by default read from the file name (D22 in MUP_PHY_…_D22_Prov_Svc.csv = 2022).",
        )
        parser.add_argument(
            "--atomic", action="store_true", help="Stop without changing anything at the first malformed row."
        )
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument(
            "--replace-year",
            action="store_true",
            help="The file is the whole year: replace that year's counts even if most of them are not in it.",
        )
        scope.add_argument(
            "--only-listed-npis",
            action="store_true",
            help="Replace that year's counts only for the NPIs in the file (a partial file); keep the others.",
        )

    def handle(self, *args, **options):
        try:
            result = import_cms(
                options["path"],
                year=options["year"],
                atomic=options["atomic"],
                replace_year=options["replace_year"],
                only_listed_npis=options["only_listed_npis"],
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        for line in result.summary():
            self.stdout.write(line)
        # The bulk writes make no history rows: give the rows this import created their baseline entry.
        reason = f"Baseline: created by the CMS Medicare import of {options['path'].name}"
        baselines = add_baseline_history(reason=reason)
        self.stdout.write(f"History: {baselines:,} baseline entries for new rows.")
        self.stdout.write(self.style.SUCCESS("Done."))
