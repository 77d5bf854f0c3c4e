from django.db import migrations

# Cameras are updated several times a second each (dispatch, capture results). Free space in every
# page lets PostgreSQL update rows in place (HOT), and a low vacuum threshold keeps the table small.
FORWARD = (
    "ALTER TABLE cameras_camera SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, "
    "autovacuum_vacuum_cost_delay = 0)"
)
BACKWARD = (
    "ALTER TABLE cameras_camera RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_vacuum_cost_delay)"
)


def forward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("cameras", "0003_camera_no_due_index")]
    operations = [migrations.RunPython(forward, backward)]
