from django.db import migrations
from django.utils import timezone

BASELINE_REASON = "Baseline: the record as it was when its history began"
MODELS = ["Specialist", "Practice", "Training", "ProcedureVolume"]


def add_baselines(apps, schema_editor):
    """Give every profile row without history one "created" entry, so its history page starts somewhere.

    directory.history.add_baseline_history() does the same at run time (demo loader, imports); this copies the
    fields by hand because a migration's historical models have no `history` manager.
    """
    now = timezone.now()
    for name in MODELS:
        model, history = apps.get_model("directory", name), apps.get_model("directory", f"Historical{name}")
        tracked = [f.attname for f in history._meta.fields if f.attname not in HISTORY_FIELDS]
        without = model.objects.exclude(pk__in=history.objects.values("id"))
        batch = []
        for row in without.iterator(chunk_size=2000):
            batch.append(
                history(
                    **{attname: getattr(row, attname) for attname in tracked},
                    history_date=now,
                    history_type="+",
                    history_change_reason=BASELINE_REASON,
                )
            )
            if len(batch) >= 2000:
                history.objects.bulk_create(batch)
                batch = []
        history.objects.bulk_create(batch)


HISTORY_FIELDS = {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}


class Migration(migrations.Migration):
    dependencies = [("directory", "0011_curators_verification_queue")]
    operations = [migrations.RunPython(add_baselines, migrations.RunPython.noop)]
