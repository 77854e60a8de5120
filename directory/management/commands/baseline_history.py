from django.core.management.base import BaseCommand
from django.db import transaction

from directory.history import add_baseline_history


class Command(BaseCommand):
    help = (
        "Give every specialist, practice, training and procedure count without change history one baseline "
        "entry (rows that fixtures or the imports' bulk writes created). Safe to repeat."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            created = add_baseline_history()
        self.stdout.write(self.style.SUCCESS(f"Added {created:,} baseline history entries."))
