"""The availability criterion (accepting new patients) joins the search index.

Rows written before have no availability part and no reason for it: they are marked aged, so that searches
recompute them from the directory until `manage.py refresh_search_index` (or the daily --expired run) rebuilds them.
"""

import datetime

from django.db import migrations, models


def age_rows(apps, schema_editor):
    apps.get_model("referral", "SearchEntry").objects.update(valid_until=datetime.date(2000, 1, 1))


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0017_practice_updated_at_published_index"),
        ("referral", "0006_search_entry_text_per_language"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="searchentry",
            name="search_entry_box",
        ),
        migrations.AddField(
            model_name="searchentry",
            name="availability",
            field=models.FloatField(default=1.0, help_text="1 when accepting new patients, else 0."),
            preserve_default=False,
        ),
        migrations.RunPython(age_rows, migrations.RunPython.noop),
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
                    "availability",
                ],
                name="search_entry_box",
            ),
        ),
    ]
