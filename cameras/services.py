"""Camera business logic: registering cameras, dispatching due captures, capturing frames."""

import datetime as dt
import logging
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from cameras import framestore
from cameras.health import camera_mark_failure
from cameras.models import Camera, Snapshot, split_credentials
from cameras.sources import CaptureError, Frame, SourceConfig, grab

logger = logging.getLogger(__name__)

# Fields an import or the command line may set.
EDITABLE = ("url", "username", "password", "enabled", "interval_s", "timeout_s", "formats", "engine", "transport")


def _ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def camera_upsert(*, name: str, **fields: object) -> tuple[Camera, bool]:
    """Create or update a camera by name; credentials typed into the URL are split out.

    Raises ValidationError with a readable message for bad values.
    """
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
    camera = Camera.objects.filter(name=name).first()
    created = camera is None
    if created:
        camera = Camera(name=name)
    if "url" in fields:
        url, user, password = split_credentials(str(fields["url"]).strip())
        fields["url"] = url
        if user and not fields.get("username"):
            fields["username"] = user
        if password and not fields.get("password"):
            fields["password"] = password
    for key, value in fields.items():
        if value is not None:
            setattr(camera, key, value)
    camera.full_clean(exclude=["next_run_at", "lease_until"])
    if camera.next_run_at is None:
        # Spread first due times over the interval so cameras added together don't fire together forever.
        camera.next_run_at = time.time() + random.uniform(0, camera.interval_s)
    camera.save()
    return camera, created


def source_config(camera: Camera) -> SourceConfig:
    return SourceConfig(
        url=camera.url, username=camera.username, password=camera.password,
        timeout_s=camera.timeout_s, transport=camera.transport,
    )


# --- Dispatch -----------------------------------------------------------------------------------
@dataclass
class DispatchResult:
    dispatched: int
    skipped: int
    elapsed_ms: float


_NEXT = "next_run_at + interval_s * (FLOOR((%(now)s - next_run_at) / interval_s) + 1)"


def _claim_due(now: float) -> tuple[list[tuple[int, float]], int]:
    """Claim every due camera in one statement and count the due ones still in flight.

    A concurrent round blocks on the same rows and re-checks the WHERE clause after the first
    commits, so no camera is claimed twice. Schedules are fixed-rate: next_run_at moves by
    whole intervals from the previous due time, skipping slots that already passed.
    """
    table = Camera._meta.db_table
    params = {"now": now, "slack": settings.CAMTRACK_LEASE_SLACK_S}
    true = "TRUE" if connection.vendor == "postgresql" else "1"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_run_at = {_NEXT}, captures_skipped = captures_skipped + 1 "
            f"WHERE enabled = {true} AND next_run_at <= %(now)s AND lease_until > %(now)s",
            params,
        )
        skipped = cursor.rowcount
        cursor.execute(
            f"UPDATE {table} SET next_run_at = {_NEXT}, lease_until = %(now)s + timeout_s + %(slack)s "
            f"WHERE enabled = {true} AND next_run_at <= %(now)s "
            f"AND (lease_until IS NULL OR lease_until <= %(now)s) "
            f"RETURNING id, next_run_at - interval_s, timeout_s",
            params,
        )
        claimed = [(row[0], row[1], row[2]) for row in cursor.fetchall()]
    return claimed, skipped


def _release(camera_ids: list[int]) -> None:
    Camera.objects.filter(pk__in=camera_ids).update(lease_until=None)


def camera_dispatch_due(*, now: float | None = None) -> DispatchResult:
    """One dispatch round: claim all due cameras and enqueue one capture each on `io`."""
    from cameras.tasks import capture

    start = time.perf_counter()
    now = time.time() if now is None else now
    claimed, skipped = _claim_due(now)
    sent = 0
    try:
        with capture.app.producer_or_acquire() as producer:
            for camera_id, scheduled_ts, timeout_s in claimed:
                # A capture that cannot start before its lease runs out is worthless: let it expire.
                capture.apply_async(
                    (camera_id, scheduled_ts), producer=producer,
                    expires=_ts(now + timeout_s + settings.CAMTRACK_LEASE_SLACK_S),
                )
                sent += 1
    except Exception:
        # Broker down: give the unsent cameras back so the next round can try them again.
        logger.exception("dispatch: broker refused after %d of %d captures", sent, len(claimed))
        _release([c[0] for c in claimed[sent:]])
        raise
    return DispatchResult(dispatched=sent, skipped=skipped, elapsed_ms=(time.perf_counter() - start) * 1000)


# --- Capture ----------------------------------------------------------------------------------
def snapshot_record_failure(*, camera: Camera, scheduled_at: dt.datetime, error: CaptureError,
                            capture_ms: float | None = None) -> Snapshot | None:
    """Record a failed capture (once per slot) and update the camera's health."""
    now = dt.datetime.now(dt.UTC)
    created = False
    snapshot = None
    try:
        with transaction.atomic():
            snapshot = Snapshot.objects.create(
                camera=camera, scheduled_at=scheduled_at, finished_at=now, capture_ms=capture_ms,
                status=Snapshot.Status.FAILED, error=error.kind[:30], error_detail=error.detail,
            )
            created = True
    except Exception as exc:  # IntegrityError: this slot is already recorded
        from django.db import IntegrityError

        if not isinstance(exc, IntegrityError):
            raise
    if created:
        camera_mark_failure(camera_id=camera.pk, at=now, error=error.kind, detail=error.detail)
    logger.info("capture failed camera=%s error=%s", camera.name, error.kind)
    return snapshot


def frame_capture(*, camera: Camera) -> tuple[Frame, float]:
    """Grab one frame within the camera's timeout; returns the frame and the milliseconds it took."""
    start = time.perf_counter()
    frame = grab(source_config(camera))
    return frame, (time.perf_counter() - start) * 1000


def snapshot_capture(*, camera_id: int, scheduled_ts: float) -> None:
    """The io stage: grab a frame, park it in the frame store, hand its key to the cpu stage."""
    from analytics.tasks import decode

    camera = Camera.objects.filter(pk=camera_id).only(
        "id", "name", "url", "username", "password", "timeout_s", "transport", "formats", "engine", "interval_s"
    ).first()
    if camera is None:
        return
    scheduled_at = _ts(scheduled_ts)
    try:
        frame, capture_ms = frame_capture(camera=camera)
    except CaptureError as exc:
        snapshot_record_failure(camera=camera, scheduled_at=scheduled_at, error=exc)
        return
    captured_ts = time.time()
    key = framestore.frame_key(camera_id, scheduled_ts)
    framestore.frame_put(key, frame.data)
    decode.apply_async(
        (camera_id, scheduled_ts, captured_ts, round(capture_ms, 2), len(frame.data)),
        expires=_ts(captured_ts + settings.CAMTRACK_FRAME_TTL_S),
    )
