"""Drop the single-column indexes of foreign keys that a composite index already starts with.

Only the indexes go: the database keeps its foreign-key constraints as they are (Django's own
AlterField would drop and re-add them, revalidating every row of tables that hold millions).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cameras", "0009_slot_hours"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="slothour",
                    name="camera",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="slot_hours",
                        to="cameras.camera",
                    ),
                ),
                migrations.AlterField(
                    model_name="snapshot",
                    name="camera",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="snapshots",
                        to="cameras.camera",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS cameras_slothour_camera_id_0c54d626",
                    reverse_sql="CREATE INDEX IF NOT EXISTS cameras_slothour_camera_id_0c54d626 ON cameras_slothour (camera_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS cameras_snapshot_camera_id_b0f4bc11",
                    reverse_sql="CREATE INDEX IF NOT EXISTS cameras_snapshot_camera_id_b0f4bc11 ON cameras_snapshot (camera_id)",
                ),
            ],
        ),
    ]
