"""The viewer, operator and admin groups with their permissions (web/roles.py)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def roles_create(apps, schema_editor) -> None:
    from web.roles import roles_ensure

    # Permissions are normally created after all migrations ran; these groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_ensure(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))


def roles_delete(apps, schema_editor) -> None:
    from web.roles import role_permissions

    apps.get_model("auth", "Group").objects.filter(name__in=list(role_permissions())).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("cameras", "0009_slot_hours"),
        ("analytics", "0002_detection_keyset_indexes"),
        ("tracking", "0003_sighting_covering_indexes"),
        ("notify", "0002_alerts"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
