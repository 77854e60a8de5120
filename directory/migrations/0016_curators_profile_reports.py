from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = ["view_profilereport", "change_profilereport", "delete_profilereport"]


def allow_curators(apps, schema_editor):
    """Curators work through the problem reports (they are never added by hand: visitors file them)."""
    app_config = apps.get_app_config("directory")
    app_config.models_module = True  # permissions normally appear only after all migrations
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Curators")
    group.permissions.add(*Permission.objects.filter(content_type__app_label="directory", codename__in=PERMISSIONS))


def disallow_curators(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name="Curators"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="directory", codename__in=PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0015_profile_report"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(allow_curators, disallow_curators)]
