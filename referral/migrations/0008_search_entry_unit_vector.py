"""Each search index row's location on the unit sphere (x, y, z), for the circle's query (referral.matching).

Filled here for existing rows, from their latitude and longitude by the same function the refresh uses
(directory.geo.unit_vector), so that a refresh finds them unchanged. The covering index is rebuilt with them.
Every row is rewritten: run `manage.py refresh_search_index` after (it vacuums and analyses the table; until
then PostgreSQL reads the table's pages too, as its visibility map is cleared, instead of the index alone).
"""

from django.db import migrations, models

from directory import geo

CHUNK = 5000


def fill(apps, schema_editor):
    entries = apps.get_model("referral", "SearchEntry")
    table = schema_editor.quote_name(entries._meta.db_table)
    rows = entries.objects.order_by("pk").values_list("pk", "latitude", "longitude")
    with schema_editor.connection.cursor() as cursor:
        last = 0
        while chunk := list(rows.filter(pk__gt=last)[:CHUNK]):
            values = [(*geo.unit_vector((latitude, longitude)), pk) for pk, latitude, longitude in chunk]
            cursor.executemany(f"UPDATE {table} SET x = %s, y = %s, z = %s WHERE id = %s", values)
            last = chunk[-1][0]


FIELDS = ["band", "longitude", "latitude", "id", "specialist", "practice", "last_name_key", "first_name_key"]
FIELDS += ["valid_until", "past_year_mis_fusions", "surgical_experience", "nonsurgical_experience", "training"]
FIELDS += ["mis_fusion", "diagnostic_injection", "conservative_care", "lumbar_fusion", "verified", "availability"]


class Migration(migrations.Migration):
    dependencies = [("referral", "0007_search_entry_availability")]

    operations = [
        migrations.RemoveIndex(model_name="searchentry", name="search_entry_box"),
        *(
            migrations.AddField(
                model_name="searchentry", name=name, field=models.FloatField(default=0.0), preserve_default=False
            )
            for name in "xyz"
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="searchentry",
            index=models.Index(fields=[*FIELDS, "x", "y", "z"], name="search_entry_box"),
        ),
    ]
