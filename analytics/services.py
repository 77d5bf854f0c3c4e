"""What was seen: decoding frames and storing snapshots and detections, each slot exactly once."""

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction

from analytics.decoders import DecodeError, DecodeResult, decode_bytes
from analytics.models import Detection
from cameras import framestore
from cameras.health import camera_mark_success
from cameras.models import Camera, Snapshot
from cameras.services import snapshot_record_failure
from cameras.sources import CaptureError

logger = logging.getLogger(__name__)


def camera_engine(camera: Camera) -> str:
    return camera.engine or settings.CAMTRACK_DEFAULT_ENGINE


def frame_decode(*, camera: Camera, data: bytes) -> DecodeResult:
    return decode_bytes(data, formats=camera.format_list, engine=camera_engine(camera))


def snapshot_store(
    *, camera: Camera, scheduled_at: dt.datetime, captured_at: dt.datetime, capture_ms: float,
    nbytes: int, result: DecodeResult,
) -> tuple[Snapshot, list[Detection]] | None:
    """Write the snapshot, its detections and the camera's health in one transaction.

    Returns None when this slot was already stored (a redelivered task): nothing is doubled.
    """
    now = dt.datetime.now(dt.UTC)
    try:
        with transaction.atomic():
            snapshot = Snapshot.objects.create(
                camera=camera, scheduled_at=scheduled_at, captured_at=captured_at, finished_at=now,
                width=result.width, height=result.height, bytes=nbytes, capture_ms=capture_ms,
                decode_ms=round(result.ms, 2), status=Snapshot.Status.OK,
            )
            detections = [
                Detection(
                    snapshot=snapshot, camera=camera, seq=i, format=code.format, text=code.text, raw=code.raw,
                    position=code.position, engine=code.engine, scheduled_at=scheduled_at,
                    captured_at=captured_at, created_at=now,
                )
                for i, code in enumerate(result.codes)
            ]
            if detections:
                Detection.objects.bulk_create(detections)
            camera_mark_success(camera_id=camera.pk, at=now)
    except IntegrityError:
        if Snapshot.objects.filter(camera=camera, scheduled_at=scheduled_at).exists():
            logger.info("snapshot already stored camera=%s slot=%s", camera.name, scheduled_at.isoformat())
            return None
        raise
    return snapshot, detections


def snapshot_decode(*, camera_id: int, scheduled_ts: float, captured_ts: float, capture_ms: float, nbytes: int) -> None:
    """The cpu stage: fetch the parked frame, decode it, store the result, drop the frame."""
    camera = Camera.objects.filter(pk=camera_id).only("id", "name", "formats", "engine", "interval_s").first()
    key = framestore.frame_key(camera_id, scheduled_ts)
    if camera is None:
        framestore.frame_delete(key)
        return
    scheduled_at = dt.datetime.fromtimestamp(scheduled_ts, tz=dt.UTC)
    data = framestore.frame_get(key)
    if data is None:
        snapshot_record_failure(camera=camera, scheduled_at=scheduled_at, error=CaptureError("expired", "frame expired before decoding"), capture_ms=capture_ms)
        return
    try:
        result = frame_decode(camera=camera, data=data)
    except DecodeError as exc:
        snapshot_record_failure(camera=camera, scheduled_at=scheduled_at, error=CaptureError(exc.kind, exc.detail), capture_ms=capture_ms)
    else:
        snapshot_store(
            camera=camera, scheduled_at=scheduled_at, captured_at=dt.datetime.fromtimestamp(captured_ts, tz=dt.UTC),
            capture_ms=capture_ms, nbytes=nbytes, result=result,
        )
    # Only after the write committed: a redelivered task still finds the frame until then.
    framestore.frame_delete(key)


def capture_now(*, camera: Camera) -> dict:
    """One capture and decode outside the queue, recorded like a scheduled one."""
    from cameras.services import frame_capture

    scheduled_ts = round(time.time(), 6)
    scheduled_at = dt.datetime.fromtimestamp(scheduled_ts, tz=dt.UTC)
    out: dict = {"camera": camera.name, "ok": False, "error": None, "capture_ms": None, "decode_ms": None, "detections": []}
    start = time.perf_counter()
    try:
        frame, capture_ms = frame_capture(camera=camera)
        out["capture_ms"] = round(capture_ms, 2)
        result = frame_decode(camera=camera, data=frame.data)
    except (CaptureError, DecodeError) as exc:
        elapsed = (time.perf_counter() - start) * 1000
        err = exc if isinstance(exc, CaptureError) else CaptureError(exc.kind, exc.detail)
        snapshot_record_failure(camera=camera, scheduled_at=scheduled_at, error=err, capture_ms=round(elapsed, 2))
        out["error"] = str(err)
        return out
    stored = snapshot_store(
        camera=camera, scheduled_at=scheduled_at, captured_at=dt.datetime.now(dt.UTC), capture_ms=capture_ms,
        nbytes=len(frame.data), result=result,
    )
    out["ok"] = True
    out["decode_ms"] = round(result.ms, 2)
    out["detections"] = [detection_dict(d) for d in (stored[1] if stored else [])]
    return out


def detection_dict(d: Detection) -> dict:
    return {"format": d.format, "text": d.text, "position": d.position}


def snapshots_prune(*, days: int | None = None) -> int:
    """Drop snapshots past retention that saw nothing; detections (and their snapshots) stay."""
    days = settings.CAMTRACK_SNAPSHOT_RETENTION_DAYS if days is None else days
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    deleted, _ = Snapshot.objects.filter(scheduled_at__lt=cutoff, detections__isnull=True).delete()
    return deleted
