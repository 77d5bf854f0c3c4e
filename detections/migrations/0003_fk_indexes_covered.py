"""Drop the single-column indexes of foreign keys that a composite index already starts with.

Only the indexes go: the database keeps its foreign-key constraints as they are (Django's own
AlterField would drop and re-add them, revalidating every row of tables that hold millions).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_detection_keyset_indexes"),
        ("cameras", "0010_fk_indexes_covered"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="detection",
                    name="camera",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="detections",
                        to="cameras.camera",
                    ),
                ),
                migrations.AlterField(
                    model_name="detection",
                    name="snapshot",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="detections",
                        to="cameras.snapshot",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS analytics_detection_camera_id_f17f434e",
                    reverse_sql="CREATE INDEX IF NOT EXISTS analytics_detection_camera_id_f17f434e ON analytics_detection (camera_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS analytics_detection_snapshot_id_371f684f",
                    reverse_sql="CREATE INDEX IF NOT EXISTS analytics_detection_snapshot_id_371f684f ON analytics_detection (snapshot_id)",
                ),
            ],
        ),
    ]
