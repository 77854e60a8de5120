import datetime
import math

from django.db import migrations, models


def fill_names_and_age(apps, schema_editor):
    """Rows written before have no name keys and no page text: add the names, and mark every row aged so that
    searches recompute its scores and text until `manage.py refresh_search_index --expired` (daily) rebuilds it."""
    SearchEntry = apps.get_model("referral", "SearchEntry")
    Specialist = apps.get_model("directory", "Specialist")
    indexed = SearchEntry.objects.values("specialist_id")
    names = {pk: (last, first) for pk, last, first in Specialist.objects.filter(pk__in=indexed).values_list(
        "pk", "last_name", "first_name"
    )}
    batch = []
    for entry in SearchEntry.objects.only("pk", "specialist_id", "latitude").iterator(chunk_size=2000):
        last, first = names[entry.specialist_id]
        entry.last_name_key, entry.first_name_key = last.casefold(), first.casefold()
        entry.band = math.floor(entry.latitude * 4)  # directory.geo.latitude_band, as of this migration
        entry.valid_until = datetime.date(2000, 1, 1)
        batch.append(entry)
    SearchEntry.objects.bulk_update(
        batch, ["band", "last_name_key", "first_name_key", "valid_until"], batch_size=2000
    )


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial"), ("referral", "0003_search_entry")]

    operations = [
        migrations.AddField(
            model_name="searchentry",
            name="explanation",
            field=models.JSONField(
                default=dict,
                help_text='{"reasons": {criterion: reason}, "facts": [key fact, …]}: the page\'s text, as of now.',
            ),
        ),
        migrations.AddField(
            model_name="searchentry",
            name="band",
            field=models.SmallIntegerField(
                default=0, help_text="The latitude band (directory.geo.latitude_band): leads the index."
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="searchentry",
            name="last_name_key",
            field=models.TextField(
                default="", help_text="The last name, casefolded: equal scores and distances sort by name."
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="searchentry",
            name="first_name_key",
            field=models.TextField(default=""),
            preserve_default=False,
        ),
        migrations.RunPython(fill_names_and_age, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="searchentry", name="search_entry_lat_lng"),
        migrations.AddIndex(
            model_name="searchentry",
            index=models.Index(
                fields=[
                    "band",
                    "longitude",
                    "latitude",
                    "id",
                    "specialist",
                    "practice",
                    "last_name_key",
                    "first_name_key",
                    "valid_until",
                    "past_year_mis_fusions",
                    "surgical_experience",
                    "nonsurgical_experience",
                    "training",
                    "mis_fusion",
                    "diagnostic_injection",
                    "conservative_care",
                    "lumbar_fusion",
                    "verified",
                ],
                name="search_entry_box",
            ),
        ),
    ]
