"""What operators ask about: a code's presence at a camera (a sighting) and per-minute roll-ups."""

from django.db import models
from django.db.models import Q

from cameras.models import Camera, Zone


class Sighting(models.Model):
    """One continuous presence of one code (format + exact payload) in front of one camera.

    Times are capture times. ``ended_at`` stays empty while the code is in view; a code unseen for
    the camera's gap ends it. ``zone`` is where the camera was when the sighting began, so a camera
    moved later does not rewrite history.
    """

    # Indexed by the composite indexes below that start with them, not on their own.
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="sightings", db_index=False)
    zone = models.ForeignKey(
        Zone, null=True, blank=True, on_delete=models.SET_NULL, related_name="sightings", db_index=False
    )
    format = models.CharField(max_length=20)
    text = models.TextField()
    raw = models.BinaryField(null=True, blank=True, help_text="payload bytes when they are not text")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    frames = models.PositiveIntegerField(default=1)
    first_position = models.JSONField(default=list)
    last_position = models.JSONField(default=list)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one open sighting per code per camera, whatever races.
            models.UniqueConstraint(
                fields=["camera", "format", "text"], condition=Q(ended_at__isnull=True), name="sighting_one_open"
            ),
        ]
        indexes = [
            models.Index(fields=["text", "first_seen"], name="sighting_text_idx"),
            models.Index(fields=["camera", "text", "last_seen"], name="sighting_camera_code_idx"),
            # Counts take distinct codes per bucket from these: with the payload included, an
            # index-only scan (PostgreSQL) instead of a visit to every row.
            models.Index(fields=["camera", "first_seen"], include=["text"], name="sighting_camera_codes_idx"),
            models.Index(fields=["zone", "first_seen"], include=["text"], name="sighting_zone_codes_idx"),
            models.Index(fields=["first_seen"], name="sighting_first_seen_idx"),
            # The sweep looks for open sightings only: a small partial index.
            models.Index(fields=["last_seen"], condition=Q(ended_at__isnull=True), name="sighting_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.format}:{self.text[:40]}@{self.camera_id}"

    @property
    def dwell_s(self) -> float:
        return round((self.last_seen - self.first_seen).total_seconds(), 3)


class CameraMinute(models.Model):
    """Per camera per minute: frames taken, frames with a code, no-reads and sightings begun.

    Kept up to date as frames are stored (one upsert per batch), so counts never scan detections.
    """

    # Indexed by the unique (camera, start) and the (zone, start) index, not on their own.
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="minutes", db_index=False)
    zone = models.ForeignKey(
        Zone, null=True, blank=True, on_delete=models.SET_NULL, related_name="minutes", db_index=False
    )
    start = models.DateTimeField()
    frames = models.PositiveIntegerField(default=0)
    reads = models.PositiveIntegerField(default=0)
    no_reads = models.PositiveIntegerField(default=0)
    gated = models.PositiveIntegerField(
        default=0, db_default=0, help_text="frames not decoded again: the picture had not changed"
    )
    # Signed: a batch whose frame joins two sightings into one adds -1 to the minute the second began,
    # and the upsert's proposed row must pass its checks before the conflict turns it into an update.
    sightings = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["camera", "start"], name="camera_minute_once")]
        indexes = [
            models.Index(fields=["zone", "start"], name="camera_minute_zone_idx"),
            models.Index(fields=["start"], name="camera_minute_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.camera_id}@{self.start:%Y-%m-%d %H:%M}"
