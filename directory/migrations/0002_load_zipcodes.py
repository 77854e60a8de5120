from django.db import migrations


def load(apps, schema_editor):
    from directory.importers.zipcodes import load_zipcodes

    load_zipcodes(apps.get_model("directory", "ZipCode"))


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop, elidable=True)]
