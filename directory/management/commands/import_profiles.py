import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from directory.importers.profiles import ProfileFileError, import_profiles


class Command(BaseCommand):
    help = "Import specialist profiles from a profiles CSV (see docs/data-sources.md); rows are matched by NPI."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="the profiles CSV (UTF-8)")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report every change (old → new), but write nothing"
        )
        parser.add_argument("--atomic", action="store_true", help="write nothing if any row is rejected")

    def handle(self, *args, path, dry_run, atomic, **options):
        try:
            with path.open("rb") as file:
                rows = sum(1 for _ in file) - 1  # for the progress bar's total
            with (
                path.open(encoding="utf-8-sig", newline="") as file,
                tqdm(total=rows, unit="rows", file=sys.stderr, disable=not sys.stderr.isatty()) as bar,
            ):
                result = import_profiles(
                    file,
                    dry_run=dry_run,
                    atomic=atomic,
                    progress=bar.update,
                    reason=f"Profiles CSV import ({path.name})",
                )
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        except ProfileFileError as error:
            raise CommandError(f"{path}: {error}") from None

        style = self.style.SUCCESS if not result.rejected else self.style.WARNING
        summary, *details = result.report_lines()
        self.stdout.write(style(summary))
        for line in details:
            self.stdout.write(line)
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
        elif not result.written:
            raise CommandError(f"--atomic: {result.rejected} rejected row(s), so nothing was written.")
