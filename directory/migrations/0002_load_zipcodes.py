from django.db import migrations

# The ZIP table used to be loaded here; 0007_locate_zipcodes loads it now, with the fields that say where a ZIP
# has no location of its own (the current loader cannot write to this migration's ZipCode model).


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]
    operations = []
