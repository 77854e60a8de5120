from django.contrib.auth.management import create_permissions
from django.db import migrations

# Curators review account requests; they get nothing on shortlists, share links or API tokens.
CURATOR_PERMISSIONS = ["view_accountrequest", "change_accountrequest"]


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():  # permissions normally appear only after all migrations
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get_or_create(name="Referring physicians")  # no admin permissions: they use /shortlists/
    curators, _ = Group.objects.get_or_create(name="Curators")
    curators.permissions.add(
        *Permission.objects.filter(content_type__app_label="referral", codename__in=CURATOR_PERMISSIONS)
    )


def remove_groups(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name="Curators"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="referral", codename__in=CURATOR_PERMISSIONS)
        )
    apps.get_model("auth", "Group").objects.filter(name="Referring physicians", user__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("referral", "0001_shortlists"),
        ("directory", "0003_curators_group"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
