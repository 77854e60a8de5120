from django.contrib.auth.management import create_permissions
from django.db import migrations

# Curators maintain profiles: everything in the directory app, nothing about users or groups.
CURATED_MODELS = ["specialist", "practice", "affiliation", "training", "procedurevolume", "sourcerecord", "zipcode"]


def create_curators_group(apps, schema_editor):
    for app_config in apps.get_app_configs():  # permissions normally appear only after all migrations
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Curators")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="directory", content_type__model__in=CURATED_MODELS)
    )


def remove_curators_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Curators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0002_load_zipcodes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_curators_group, remove_curators_group)]
