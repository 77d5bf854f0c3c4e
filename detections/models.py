from django.db import models

from cameras.models import Camera, Snapshot


class Detection(models.Model):
    # Indexed by the composite indexes below that start with them, not on their own (see Snapshot).
    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="detections", db_index=False)
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="detections", db_index=False)
    seq = models.PositiveSmallIntegerField(default=0, help_text="order within the snapshot")
    format = models.CharField(max_length=20)
    text = models.TextField(db_index=False)
    raw = models.BinaryField(null=True, blank=True, help_text="payload bytes when they are not text")
    position = models.JSONField(default=list, help_text="four [x, y] corners")
    engine = models.CharField(max_length=10, blank=True)
    scheduled_at = models.DateTimeField()
    captured_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["snapshot", "seq"], name="detection_once")]
        # Lists page on the id (keyset, newest first): each filter has an index that ends in the id,
        # so page 1 and page 10,000 cost the same.
        indexes = [
            models.Index(fields=["created_at"], name="detection_created_idx"),
            models.Index(fields=["camera", "-id"], name="detection_camera_id_idx"),
            models.Index(fields=["text", "-id"], name="detection_text_id_idx"),
            models.Index(fields=["format", "-id"], name="detection_format_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.format}:{self.text[:40]}"
