"""What was seen: decoding frames and storing snapshots and detections, each slot exactly once."""

import base64
import datetime as dt
import json
import logging
import time

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from analytics.decoders import Code, DecodeError, DecodeResult, decode_bytes
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


def _storable(code: Code) -> tuple[str, bytes | None]:
    """Text columns cannot hold NUL: such payloads keep their exact bytes in raw, the text shows U+FFFD."""
    if "\x00" not in code.text:
        return code.text, code.raw
    return code.text.replace("\x00", "\ufffd"), code.raw if code.raw is not None else code.text.encode()


def _detections(camera_id: int, snapshot_id: int | None, result: DecodeResult, scheduled_at: dt.datetime,
                captured_at: dt.datetime, now: dt.datetime) -> list[Detection]:
    detections = []
    for i, code in enumerate(result.codes):
        text, raw = _storable(code)
        detections.append(Detection(
            snapshot_id=snapshot_id, camera_id=camera_id, seq=i, format=code.format, text=text, raw=raw,
            position=code.position, engine=code.engine, scheduled_at=scheduled_at, captured_at=captured_at,
            created_at=now,
        ))
    return detections


def _store_orm(*, camera_id: int, scheduled_at: dt.datetime, captured_at: dt.datetime, capture_ms: float,
               nbytes: int, result: DecodeResult, now: dt.datetime) -> bool:
    try:
        with transaction.atomic():
            snapshot = Snapshot.objects.create(
                camera_id=camera_id, scheduled_at=scheduled_at, captured_at=captured_at, finished_at=now,
                width=result.width, height=result.height, bytes=nbytes, capture_ms=capture_ms,
                decode_ms=round(result.ms, 2), status=Snapshot.Status.OK,
            )
            detections = _detections(camera_id, snapshot.pk, result, scheduled_at, captured_at, now)
            if detections:
                Detection.objects.bulk_create(detections)
            camera_mark_success(camera_id=camera_id, at=now)
    except IntegrityError:
        if Snapshot.objects.filter(camera_id=camera_id, scheduled_at=scheduled_at).exists():
            return False
        raise
    return True


def _store_postgres(*, camera_id: int, scheduled_at: dt.datetime, captured_at: dt.datetime, capture_ms: float,
                    nbytes: int, result: DecodeResult, now: dt.datetime) -> bool:
    """The same write as _store_orm in one statement: one round trip instead of six on the hot path.

    The snapshot insert does nothing on a slot already stored, and then neither do the others.
    """
    snap, det, cam = Snapshot._meta.db_table, Detection._meta.db_table, Camera._meta.db_table
    params: list[object] = [camera_id, scheduled_at, captured_at, now, result.width, result.height, nbytes,
                            capture_ms, round(result.ms, 2)]
    detections_sql = ""
    if result.codes:
        params += [camera_id, scheduled_at, captured_at, now]  # the SELECT's placeholders come first
        rows = []
        for i, code in enumerate(result.codes):
            rows.append("(%s, %s, %s, %s::bytea, %s::jsonb, %s)")
            text, raw = _storable(code)
            params += [i, code.format, text, raw, json.dumps(code.position), code.engine]
        detections_sql = (
            f", det AS (INSERT INTO {det} (snapshot_id, camera_id, seq, format, text, raw, position, engine, "
            f"scheduled_at, captured_at, created_at) "
            f"SELECT snap.id, %s, v.seq, v.format, v.text, v.raw, v.position, v.engine, %s, %s, %s "
            f"FROM snap, (VALUES {', '.join(rows)}) AS v(seq, format, text, raw, position, engine))"
        )
    params += [now, camera_id]
    sql = (
        f"WITH snap AS (INSERT INTO {snap} (camera_id, scheduled_at, captured_at, finished_at, width, height, bytes, "
        f"capture_ms, decode_ms, status, error, error_detail) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'ok', '', '') "
        f"ON CONFLICT (camera_id, scheduled_at) DO NOTHING RETURNING id)"
        f"{detections_sql}"
        f", cam AS (UPDATE {cam} SET captures_ok = captures_ok + 1, consecutive_failures = 0, "
        f"last_capture_at = %s, lease_until = NULL FROM snap WHERE {cam}.id = %s AND status = 'online' "
        f"RETURNING {cam}.id) "
        f"SELECT (SELECT id FROM snap), (SELECT count(*) FROM cam)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        snapshot_id, online = cursor.fetchone()
    if snapshot_id is None:
        return False
    if not online:
        camera_mark_success(camera_id=camera_id, at=now)  # a status change: logged as an event
    return True


def snapshot_store(
    *, camera_id: int, scheduled_at: dt.datetime, captured_at: dt.datetime, capture_ms: float,
    nbytes: int, result: DecodeResult,
) -> bool:
    """Write the snapshot, its detections and the camera's health atomically.

    Returns False when this slot was already stored (a redelivered task): nothing is doubled.
    """
    store = _store_postgres if connection.vendor == "postgresql" else _store_orm
    stored = store(camera_id=camera_id, scheduled_at=scheduled_at, captured_at=captured_at, capture_ms=capture_ms,
                   nbytes=nbytes, result=result, now=dt.datetime.now(dt.UTC))
    if not stored:
        logger.info("snapshot already stored camera=%s slot=%s", camera_id, scheduled_at.isoformat())
    return stored


def snapshot_decode(*, camera_id: int, scheduled_ts: float, captured_ts: float, capture_ms: float, nbytes: int,
                    formats: str, engine: str) -> None:
    """The cpu stage: fetch the parked frame, decode it, store the result, drop the frame."""
    key = framestore.frame_key(camera_id, scheduled_ts)
    scheduled_at = dt.datetime.fromtimestamp(scheduled_ts, tz=dt.UTC)
    data = framestore.frame_get(key)
    if data is None:
        _record_failure(camera_id, scheduled_at, CaptureError("expired", "frame expired before decoding"), capture_ms)
        return
    try:
        result = decode_bytes(data, formats=formats.split(","), engine=engine or settings.CAMTRACK_DEFAULT_ENGINE)
    except DecodeError as exc:
        _record_failure(camera_id, scheduled_at, CaptureError(exc.kind, exc.detail), capture_ms)
    else:
        snapshot_store(
            camera_id=camera_id, scheduled_at=scheduled_at,
            captured_at=dt.datetime.fromtimestamp(captured_ts, tz=dt.UTC), capture_ms=capture_ms, nbytes=nbytes,
            result=result,
        )
    # Only after the write committed: a redelivered task still finds the frame until then.
    framestore.frame_delete(key)


def _record_failure(camera_id: int, scheduled_at: dt.datetime, error: CaptureError, capture_ms: float) -> None:
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is not None:
        snapshot_record_failure(camera=camera, scheduled_at=scheduled_at, error=error, capture_ms=capture_ms)


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
    snapshot_store(
        camera_id=camera.pk, scheduled_at=scheduled_at, captured_at=dt.datetime.now(dt.UTC), capture_ms=capture_ms,
        nbytes=len(frame.data), result=result,
    )
    out["ok"] = True
    out["decode_ms"] = round(result.ms, 2)
    out["detections"] = [code_dict(c) for c in result.codes]
    return out


def code_dict(code: Code) -> dict:
    out = {"format": code.format, "text": code.text, "position": code.position}
    if code.raw is not None:
        out["raw"] = base64.b64encode(code.raw).decode()
    return out


def snapshots_prune(*, days: int | None = None) -> int:
    """Drop snapshots past retention that saw nothing; detections (and their snapshots) stay."""
    days = settings.CAMTRACK_SNAPSHOT_RETENTION_DAYS if days is None else days
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    deleted, _ = Snapshot.objects.filter(scheduled_at__lt=cutoff, detections__isnull=True).delete()
    return deleted
