from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from directory.geocoding import GeocodingOff, build_geocode, geocode_practices, practices_to_geocode


class Command(BaseCommand):
    help = (
        "Geocode practice street addresses with the geocoder configured by SIJ_GEOCODER (off by default: then "
        "nothing is sent anywhere). Hand-set coordinates are kept; unplaceable addresses stay at the ZIP centroid."
    )

    def add_arguments(self, parser):
        parser.add_argument("--refresh", action="store_true", help="Ask again for addresses already answered.")
        parser.add_argument(
            "--include-unpublished", action="store_true", help="Also practices of unpublished specialists."
        )
        parser.add_argument("--limit", type=int, help="Geocode at most this many practices (in id order).")

    def handle(self, *args, refresh, include_unpublished, limit, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        try:
            geocode = build_geocode()
        except GeocodingOff:
            self.stdout.write(
                "Geocoding is off: SIJ_GEOCODER is not set, so no address was sent anywhere and practices stay at "
                "their ZIP centroids. See docs/operations.md to configure a geocoder."
            )
            return
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        practices = practices_to_geocode(refresh=refresh, include_unpublished=include_unpublished)
        if limit:
            practices = practices[:limit]
        total = practices.count()
        self.stdout.write(f"Geocoding {total} practice{'' if total == 1 else 's'}…")
        # A list, not .iterator(): a PostgreSQL server-side cursor would not outlive the per-practice transactions.
        summary = geocode_practices(list(practices), refresh=refresh, geocode=geocode)
        if summary.stopped:
            self.stderr.write(self.style.ERROR(f"Stopped early: {summary.stopped}. Kept so far: {summary}."))
            raise CommandError("Geocoding stopped before the end; run the command again to continue.")
        self.stdout.write(self.style.SUCCESS(f"Done: {summary}."))
