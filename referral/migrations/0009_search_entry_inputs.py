"""The digest of each search index row's inputs (referral.search_index.inputs_digest).

Existing rows get an empty digest, which matches nothing: the next `manage.py refresh_search_index` recomputes
and rewrites every row once (as a rebuild from empty would), and from then on leaves unchanged specialists alone.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("referral", "0008_search_entry_unit_vector")]

    operations = [
        migrations.AddField(
            model_name="searchentry",
            name="inputs",
            field=models.CharField(
                default="",
                help_text="A digest of what the row was computed from (referral.search_index.inputs_digest): a "
                "refresh leaves rows whose digest still matches alone, without recomputing them.",
                max_length=32,
            ),
        ),
    ]
