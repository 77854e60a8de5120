from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from directory.importers.cms import import_cms
from directory.importers.streaming import ImportFileError


class Command(BaseCommand):
    help = (
        "Import one year of CMS 'Medicare Physician & Other Practitioners - by Provider and Service' (.csv, .csv.gz "
        "or .zip): SI-joint and lumbar-fusion counts per NPI, replacing that year's earlier import."
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

    def handle(self, *args, **options):
        try:
            result = import_cms(options["path"], year=options["year"], atomic=options["atomic"])
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        for line in result.summary():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Done."))
