from urllib.parse import unquote, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from cameras.codes import ENGINES, FORMATS

SCHEMES = ("rtsp", "rtsps", "http", "https", "file")


def split_credentials(url: str) -> tuple[str, str, str]:
    """Return (url without credentials, username, password) for a URL typed with user:pass@."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, "", ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, unquote(parts.username or ""), unquote(parts.password or "")


def validate_camera_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValidationError(f"not a URL: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ValidationError(f"URL scheme must be one of {', '.join(SCHEMES)}")
    if parts.scheme != "file" and not parts.hostname:
        raise ValidationError("URL has no host")
    if parts.scheme == "file" and not parts.path:
        raise ValidationError("file URL has no path")


def validate_formats(value: str) -> None:
    unknown = [f for f in value.split(",") if f.strip() and f.strip() not in FORMATS]
    if unknown or not value.strip():
        raise ValidationError(f"formats must be a comma list of {', '.join(FORMATS)}")


def validate_engine(value: str) -> None:
    if value and value not in ENGINES:
        raise ValidationError(f"engine must be one of {', '.join(ENGINES)}, or blank for the default")


def validate_roi(value: str) -> None:
    if not value:
        return
    parts = value.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts) or int(parts[2]) == 0 or int(parts[3]) == 0:
        raise ValidationError("region of interest must be x,y,width,height in pixels")


def default_gap_s(interval_s: float) -> float:
    """How long a code may go unseen before its sighting ends: three missed frames, at least 5 s."""
    return max(3 * interval_s, 5.0)


class Zone(models.Model):
    """A place cameras watch (``dock-3``, ``inbound``): journeys and counts speak of zones."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Camera(models.Model):
    class Status(models.TextChoices):
        NEW = "new"
        ONLINE = "online"
        DEGRADED = "degraded"
        OFFLINE = "offline"

    class Transport(models.TextChoices):
        TCP = "tcp"
        UDP = "udp"

    class Mode(models.TextChoices):
        SNAPSHOT = "snapshot"  # a fresh connection per slot, by the io workers
        STREAM = "stream"  # one long-lived RTSP session, held by a streams process

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(max_length=500, validators=[validate_camera_url])
    username = models.CharField(max_length=150, blank=True)
    password = models.CharField(max_length=300, blank=True)
    enabled = models.BooleanField(default=True)
    interval_s = models.FloatField(default=5.0, validators=[MinValueValidator(0.5)])
    timeout_s = models.FloatField(default=5.0, validators=[MinValueValidator(0.1)])
    formats = models.CharField(max_length=200, default="qr", validators=[validate_formats])
    engine = models.CharField(
        max_length=10, blank=True, validators=[validate_engine], help_text="zxing or zbar; blank: the default"
    )
    transport = models.CharField(max_length=3, choices=Transport.choices, default=Transport.TCP)
    mode = models.CharField(
        max_length=10,
        choices=Mode.choices,
        blank=True,
        default="",
        help_text="stream: one long-lived RTSP session (RTSP only); blank: stream for RTSP, snapshot otherwise",
    )
    roi = models.CharField(
        max_length=40, blank=True, validators=[validate_roi], help_text="x,y,width,height to decode; blank: all"
    )
    downscale = models.PositiveSmallIntegerField(
        default=1,
        choices=[(1, "1"), (2, "1/2"), (4, "1/4"), (8, "1/8")],
        help_text="decode at a fraction of full size: faster, for codes that are large in the frame",
    )

    change_gate = models.BooleanField(
        default=True,
        db_default=True,
        help_text="skip decoding a frame whose picture has not changed since the last decoded one",
    )
    zone = models.ForeignKey(Zone, null=True, blank=True, on_delete=models.SET_NULL, related_name="cameras")
    sighting_gap_s = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5)],
        help_text="a code unseen this long ends its sighting; blank: max(3 x interval, 5 s)",
    )

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    status_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_capture_at = models.DateTimeField(null=True, blank=True)
    captures_ok = models.PositiveBigIntegerField(default=0)
    captures_failed = models.PositiveBigIntegerField(default=0)
    captures_skipped = models.PositiveBigIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)

    # Scheduling state, in Unix seconds so one portable UPDATE can do the arithmetic.
    next_run_at = models.FloatField(null=True, blank=True, help_text="Unix time of the next due capture")
    last_due_at = models.FloatField(
        null=True, blank=True, help_text="Unix time of the first slot of the last round that claimed or skipped it"
    )
    lease_until = models.FloatField(null=True, blank=True, help_text="Unix time a capture in flight expires")
    slots_missed = models.PositiveIntegerField(
        default=0, help_text="slots the last dispatch round found already past or skipped (counted in SlotHour)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        # No index on next_run_at on purpose: every dispatch moves it, and an indexed column makes each
        # of those updates non-HOT (index churn, table bloat); scanning even 100,000 cameras is cheap.

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # The default repr is fine too, but say explicitly that credentials stay out.
        return f"<Camera {self.pk} {self.name}>"

    def save(self, *args: object, **kwargs: object) -> None:
        # An invariant, not a write path: whatever saves a camera, a stored URL never carries
        # credentials (cameras.services.camera_save is where cameras are created and changed).
        clean, user, password = split_credentials(self.url)
        if clean != self.url:
            self.url = clean
            self.username = user or self.username
            self.password = password or self.password
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.mode == self.Mode.STREAM and urlsplit(self.url).scheme not in ("rtsp", "rtsps"):
            raise ValidationError({"mode": "stream mode needs an rtsp:// or rtsps:// URL"})

    @property
    def gap_s(self) -> float:
        return self.sighting_gap_s or default_gap_s(self.interval_s)

    @property
    def roi_box(self) -> tuple[int, int, int, int] | None:
        return tuple(int(p) for p in self.roi.split(",")) if self.roi else None

    @property
    def format_list(self) -> list[str]:
        return [f.strip() for f in self.formats.split(",") if f.strip()]


class CameraEvent(models.Model):
    """A change of a camera's status: when it went down or came back, and why."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=Camera.Status.choices)
    previous = models.CharField(max_length=10, choices=Camera.Status.choices)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.previous}->{self.status}"


class Snapshot(models.Model):
    class Status(models.TextChoices):
        OK = "ok"
        FAILED = "failed"

    # No index of its own: the unique (camera, scheduled_at) one serves every lookup by camera, and
    # each index more is paid on every one of hundreds of inserts a second.
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="snapshots", db_index=False)
    scheduled_at = models.DateTimeField()
    captured_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    bytes = models.PositiveIntegerField(null=True, blank=True)
    capture_ms = models.FloatField(null=True, blank=True)
    decode_ms = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.CharField(max_length=30, blank=True, help_text="error class, e.g. timeout or http_404")
    error_detail = models.CharField(max_length=300, blank=True)
    # An unchanged picture with no code (the change gate held, nothing found): the minute counts and the
    # slot accounting say all it says, so it is kept only while it serves as its slot's once-only key
    # (CAMTRACK_QUIET_SNAPSHOT_KEEP_S), not for the snapshot retention.
    quiet = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-scheduled_at"]
        constraints = [
            # One snapshot per camera per due time: a redelivered task cannot record twice.
            models.UniqueConstraint(fields=["camera", "scheduled_at"], name="snapshot_once_per_slot"),
        ]
        indexes = [models.Index(fields=["scheduled_at"], name="snapshot_scheduled_idx")]

    def __str__(self) -> str:
        return f"{self.camera_id}@{self.scheduled_at:%H:%M:%S.%f}"


class StreamLease(models.Model):
    """Which streams process holds a stream-mode camera's session, until when (Unix seconds).

    A holder renews its leases every heartbeat; a lease not renewed runs out and another process
    claims the camera. Kept apart from the camera row, whose updates stay few and HOT.
    """

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, primary_key=True, related_name="stream_lease")
    holder = models.CharField(max_length=200, blank=True)
    lease_until = models.FloatField(default=0.0)
    acquired_at = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"{self.camera_id} by {self.holder or '-'}"


class StreamHolder(models.Model):
    """A live streams process: how many hold stream cameras decides each one's fair share."""

    name = models.CharField(max_length=200, primary_key=True)
    alive_until = models.FloatField()

    def __str__(self) -> str:
        return self.name


class SlotHour(models.Model):
    """Per camera, per hour of due time, how its due slots ended: stored, failed (by error class) or
    skipped (by reason). Every due slot of an enabled camera is counted here exactly once, so
    coverage (stored / all) per camera and hour shows where and when frames were lost, also for
    slots that fell due while the database or the broker was down."""

    class Outcome(models.TextChoices):
        STORED = "stored"
        FAILED = "failed"
        SKIPPED = "skipped"

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="slot_hours", db_index=False)
    hour = models.DateTimeField(help_text="start of the hour the slots fell due in (UTC)")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=30, blank=True, help_text="error class or skip reason; blank when stored")
    slots = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["camera", "hour", "outcome", "reason"], name="slot_hour_once"),
        ]
        indexes = [models.Index(fields=["hour"], name="slot_hour_hour_idx")]

    def __str__(self) -> str:
        return f"{self.camera_id}@{self.hour:%Y-%m-%d %H}h {self.outcome} {self.reason} {self.slots}"
