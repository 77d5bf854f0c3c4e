from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _roles(sender: AppConfig, **kwargs: object) -> None:
    # After every migrate (and a flush): the groups come back with any permission added since, and a
    # database emptied by a flush still has its roles.
    from django.contrib.auth.models import Group, Permission

    from web.roles import roles_ensure

    roles_ensure(group_model=Group, permission_model=Permission)


class WebConfig(AppConfig):
    name = "web"

    def ready(self) -> None:
        # Once, after the last app's permissions exist: web comes after the apps it gives roles on.
        post_migrate.connect(_roles, sender=self, dispatch_uid="camtrack-roles")
