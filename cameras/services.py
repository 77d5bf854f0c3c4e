"""Camera writes: the one path by which the admin, the API, CSV imports and commands create and
change cameras, and the record of a slot that could not be captured."""

import datetime as dt
import logging
import random
import time
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cameras.health import camera_mark_failure
from cameras.models import Camera, Snapshot, Zone, split_credentials
from cameras.slots import FAILED, slots_count
from cameras.sources import CaptureError, SourceConfig

logger = logging.getLogger(__name__)

# Fields an operator may set (admin, import, command line); the rest is the system's state.
EDITABLE = (
    "url",
    "username",
    "password",
    "enabled",
    "interval_s",
    "timeout_s",
    "formats",
    "engine",
    "transport",
    "mode",
    "roi",
    "downscale",
    "zone",
    "sighting_gap_s",
    "change_gate",
)


def camera_save(*, camera: Camera) -> Camera:
    """Validate and save a camera whose fields were set by a caller (a form, an import, a command).

    Credentials typed into the URL move to username/password, every field is validated, and a camera
    without a schedule gets one, so it is captured within its first interval however it was added.
    Raises ValidationError with a readable message for bad values.
    """
    url, user, password = split_credentials(camera.url.strip())
    camera.url = url
    camera.username = user or camera.username
    camera.password = password or camera.password
    if not camera.mode:
        # RTSP cameras default to a held session: opening one per slot costs a second and a key frame.
        is_rtsp = camera.url.lower().startswith(("rtsp://", "rtsps://"))
        camera.mode = Camera.Mode.STREAM if is_rtsp else Camera.Mode.SNAPSHOT
    camera.full_clean(exclude=["next_run_at", "lease_until", "last_due_at", "slots_missed"])
    if camera.pk and camera.enabled and Camera.objects.filter(pk=camera.pk, enabled=False).exists():
        # Enabled again: its slots while disabled were never due, so its schedule starts afresh.
        camera.next_run_at = None
    if camera.next_run_at is None:
        # Spread first due times over the interval so cameras added together don't fire together forever.
        camera.next_run_at = time.time() + random.uniform(0, camera.interval_s)
    camera.save()
    return camera


def camera_upsert(*, name: str, **fields: object) -> tuple[Camera, bool]:
    """Create or update a camera by name; a field given as None keeps its current value."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
    camera = Camera.objects.filter(name=name).first()
    created = camera is None
    if created:
        camera = Camera(name=name)
    if fields.get("url") is not None:
        # Credentials in the URL yield to ones given explicitly.
        url, user, password = split_credentials(str(fields["url"]).strip())
        fields["url"] = url
        fields["username"] = fields.get("username") or user or None
        fields["password"] = fields.get("password") or password or None
    zone = fields.pop("zone", None)
    if zone is not None:
        camera.zone = zone_for(name=str(zone))
    for key, value in fields.items():
        if value is not None:
            setattr(camera, key, value)
    return camera_save(camera=camera), created


def zone_for(*, name: str) -> Zone | None:
    """The zone of this name, created on first use (imports and commands name zones freely); "" is none."""
    name = name.strip()
    if not name:
        return None
    if len(name) > Zone._meta.get_field("name").max_length:
        raise ValidationError(f"zone name is longer than {Zone._meta.get_field('name').max_length} characters")
    return Zone.objects.get_or_create(name=name)[0]


def cameras_set_enabled(*, camera_ids: Iterable[int], enabled: bool) -> int:
    """Enable or disable cameras; a disabled camera's capture lease is dropped."""
    changes: dict[str, object] = {"enabled": enabled}
    if not enabled:
        changes["lease_until"] = None
    else:
        # A disabled camera had no due slots: it starts afresh rather than owing the time it was off.
        return Camera.objects.filter(pk__in=list(camera_ids), enabled=False).update(enabled=True, next_run_at=None)
    return Camera.objects.filter(pk__in=list(camera_ids)).update(**changes)


def source_config(camera: Camera) -> SourceConfig:
    return SourceConfig(
        url=camera.url,
        username=camera.username,
        password=camera.password,
        timeout_s=camera.timeout_s,
        transport=camera.transport,
    )


def snapshot_record_failure(
    *, camera_id: int, scheduled_at: dt.datetime, error: CaptureError, capture_ms: float | None = None
) -> Snapshot | None:
    """Record a failed slot (once per slot) and update the camera's health; None if already recorded."""
    now = dt.datetime.now(dt.UTC)
    try:
        with transaction.atomic():
            snapshot = Snapshot.objects.create(
                camera_id=camera_id,
                scheduled_at=scheduled_at,
                finished_at=now,
                capture_ms=capture_ms,
                status=Snapshot.Status.FAILED,
                error=error.kind[:30],
                error_detail=error.detail,
            )
            slots_count(outcome=FAILED, slots=[(camera_id, scheduled_at.timestamp())], reason=error.kind)
    except IntegrityError:
        # This slot is already recorded (a redelivered task), or the camera was deleted meanwhile.
        return None
    camera = camera_mark_failure(camera_id=camera_id, at=now, error=error.kind, detail=error.detail)
    logger.info("capture failed camera=%s error=%s", camera.name if camera else camera_id, error.kind)
    return snapshot
