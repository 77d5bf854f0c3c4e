"""Roles are Django groups (created by web/migrations/0001_roles.py) carrying model permissions, so the
admin and the API agree on who may do what: viewers read; operators manage cameras, zones, alert rules,
alerts and webhooks; admins also manage users. A superuser may do everything."""

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"

# (app label, model) each role may add, change and delete; every role may view everything below.
OPERATES = [
    ("cameras", "camera"),
    ("cameras", "zone"),
    ("notify", "alertrule"),
    ("notify", "alert"),
    ("notify", "webhooksubscription"),
    ("notify", "webhookdelivery"),
]
ADMINISTERS = [("auth", "user"), ("authtoken", "token")]
VIEWS = [
    *OPERATES,
    ("cameras", "cameraevent"),
    ("cameras", "snapshot"),
    ("cameras", "slothour"),
    ("analytics", "detection"),
    ("tracking", "sighting"),
    ("tracking", "cameraminute"),
]


def role_permissions() -> dict[str, list[tuple[str, str, str]]]:
    """Per role, (app label, model, action) triples."""
    view = [(app, model, "view") for app, model in VIEWS]
    operate = [(app, model, action) for app, model in OPERATES for action in ("add", "change", "delete")]
    administer = [(app, model, action) for app, model in ADMINISTERS for action in ("add", "change", "delete", "view")]
    return {VIEWER: view, OPERATOR: view + operate, ADMIN: view + operate + administer}


def roles_ensure(*, group_model: type, permission_model: type) -> None:
    """Create the groups and give them their permissions (idempotent; permissions must exist)."""
    for role, triples in role_permissions().items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = [
            permission_model.objects.filter(content_type__app_label=app, codename=f"{action}_{model}").first()
            for app, model, action in triples
        ]
        group.permissions.add(*[p for p in wanted if p is not None])
