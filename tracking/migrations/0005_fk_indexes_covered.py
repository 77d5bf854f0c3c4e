"""Drop the single-column indexes of foreign keys that a composite index already starts with.

Only the indexes go: the database keeps its foreign-key constraints as they are (Django's own
AlterField would drop and re-add them, revalidating every row of tables that hold millions).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cameras", "0010_fk_indexes_covered"),
        ("tracking", "0004_change_gate"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="cameraminute",
                    name="camera",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="minutes",
                        to="cameras.camera",
                    ),
                ),
                migrations.AlterField(
                    model_name="cameraminute",
                    name="zone",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="minutes",
                        to="cameras.zone",
                    ),
                ),
                migrations.AlterField(
                    model_name="sighting",
                    name="camera",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sightings",
                        to="cameras.camera",
                    ),
                ),
                migrations.AlterField(
                    model_name="sighting",
                    name="zone",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="sightings",
                        to="cameras.zone",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS tracking_cameraminute_camera_id_92a50aba",
                    reverse_sql="CREATE INDEX IF NOT EXISTS tracking_cameraminute_camera_id_92a50aba ON tracking_cameraminute (camera_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS tracking_cameraminute_zone_id_04be3326",
                    reverse_sql="CREATE INDEX IF NOT EXISTS tracking_cameraminute_zone_id_04be3326 ON tracking_cameraminute (zone_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS tracking_sighting_camera_id_15e053cc",
                    reverse_sql="CREATE INDEX IF NOT EXISTS tracking_sighting_camera_id_15e053cc ON tracking_sighting (camera_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS tracking_sighting_zone_id_2d0d7c73",
                    reverse_sql="CREATE INDEX IF NOT EXISTS tracking_sighting_zone_id_2d0d7c73 ON tracking_sighting (zone_id)",
                ),
            ],
        ),
    ]
