"""Who may do what through the API: the model permissions of the user's role (web/roles.py)."""

from rest_framework import permissions
from rest_framework.request import Request


class RolePermissions(permissions.DjangoModelPermissions):
    """Reads for every signed-in user; a write needs the model's add, change or delete permission.

    A view may set ``read_permission_required = True`` (users and tokens): then reading needs the view
    permission too.
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS and not getattr(view, "read_permission_required", False):
            return True
        return super().has_permission(request, view)
