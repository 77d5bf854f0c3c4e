"""Stage 4, store (cpu): snapshots, their detections and their cameras' health, each slot exactly once."""

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from cameras.health import camera_mark_success
from cameras.models import Camera, Snapshot
from cameras.schedule import cameras_lock_rows
from cameras.selectors import camera_places
from cameras.slots import STORED, slots_count
from camtrack.metrics import DETECTIONS, GATED, LATENCY, SIGHTINGS_OPENED
from detections.decoders import Code, DecodeResult
from detections.models import Detection
from notify.announce import track_result_announce
from tracking.services import Seen, TrackedFrame, cameras_lock, frames_track

logger = logging.getLogger(__name__)


def _storable(code: Code) -> tuple[str, bytes | None]:
    """Text columns cannot hold NUL: such payloads keep their exact bytes in raw, the text shows U+FFFD."""
    if "\x00" not in code.text:
        return code.text, code.raw
    return code.text.replace("\x00", "\ufffd"), code.raw if code.raw is not None else code.text.encode()


def _detections(
    camera_id: int,
    snapshot_id: int | None,
    result: DecodeResult,
    scheduled_at: dt.datetime,
    captured_at: dt.datetime,
    now: dt.datetime,
) -> list[Detection]:
    detections = []
    for i, code in enumerate(result.codes):
        text, raw = _storable(code)
        detections.append(
            Detection(
                snapshot_id=snapshot_id,
                camera_id=camera_id,
                seq=i,
                format=code.format,
                text=text,
                raw=raw,
                position=code.position,
                engine=code.engine,
                scheduled_at=scheduled_at,
                captured_at=captured_at,
                created_at=now,
            )
        )
    return detections


def is_quiet(result: DecodeResult) -> bool:
    """An unchanged picture in which nothing was found: its row is only its slot's once-only key."""
    return result.gated and not result.codes and not result.no_read


@dataclass
class StoreEntry:
    camera_id: int
    scheduled_at: dt.datetime
    captured_at: dt.datetime
    capture_ms: float
    nbytes: int
    result: DecodeResult


def _store_orm(entries: list[StoreEntry], now: dt.datetime) -> list[StoreEntry]:
    stored = []
    with transaction.atomic():
        for e in entries:
            try:
                with transaction.atomic():
                    snapshot = Snapshot.objects.create(
                        camera_id=e.camera_id,
                        scheduled_at=e.scheduled_at,
                        captured_at=e.captured_at,
                        finished_at=now,
                        width=e.result.width,
                        height=e.result.height,
                        bytes=e.nbytes,
                        capture_ms=e.capture_ms,
                        decode_ms=round(e.result.ms, 2),
                        status=Snapshot.Status.OK,
                        quiet=is_quiet(e.result),
                    )
                    detections = _detections(e.camera_id, snapshot.pk, e.result, e.scheduled_at, e.captured_at, now)
                    if detections:
                        Detection.objects.bulk_create(detections)
            except IntegrityError:
                if not Snapshot.objects.filter(camera_id=e.camera_id, scheduled_at=e.scheduled_at).exists():
                    raise
                continue
            camera_mark_success(camera_id=e.camera_id, at=now)
            stored.append(e)
        slots_count(outcome=STORED, slots=[(e.camera_id, e.scheduled_at.timestamp()) for e in stored])
    return stored


def _store_postgres(entries: list[StoreEntry], now: dt.datetime) -> list[StoreEntry]:
    """The same writes as _store_orm in one statement: one round trip for a whole batch.

    A snapshot already stored (a redelivered task) is skipped by ON CONFLICT, and so are its
    detections and its camera update, which join on the rows actually inserted.
    """
    snap, det, cam = Snapshot._meta.db_table, Detection._meta.db_table, Camera._meta.db_table
    snap_rows, det_rows, params, det_params = [], [], [], []
    for e in entries:
        snap_rows.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s, 'ok', '', '', %s)")
        params += [
            e.camera_id,
            e.scheduled_at,
            e.captured_at,
            now,
            e.result.width,
            e.result.height,
            e.nbytes,
            e.capture_ms,
            round(e.result.ms, 2),
            is_quiet(e.result),
        ]
        for i, code in enumerate(e.result.codes):
            text, raw = _storable(code)
            det_rows.append("(%s, %s::timestamptz, %s::timestamptz, %s, %s, %s, %s::bytea, %s::jsonb, %s)")
            det_params += [
                e.camera_id,
                e.scheduled_at,
                e.captured_at,
                i,
                code.format,
                text,
                raw,
                json.dumps(code.position),
                code.engine,
            ]
    sql = (
        f"WITH snap AS (INSERT INTO {snap} (camera_id, scheduled_at, captured_at, finished_at, width, height, "
        f"bytes, capture_ms, decode_ms, status, error, error_detail, quiet) VALUES {', '.join(snap_rows)} "
        f"ON CONFLICT (camera_id, scheduled_at) DO NOTHING RETURNING id, camera_id, scheduled_at)"
    )
    if det_rows:
        sql += (
            f", det AS (INSERT INTO {det} (snapshot_id, camera_id, seq, format, text, raw, position, engine, "
            f"scheduled_at, captured_at, created_at) "
            f"SELECT snap.id, v.camera_id, v.seq, v.format, v.text, v.raw, v.position, v.engine, v.scheduled_at, "
            f"v.captured_at, %s FROM snap JOIN (VALUES {', '.join(det_rows)}) "
            f"AS v(camera_id, scheduled_at, captured_at, seq, format, text, raw, position, engine) "
            f"ON snap.camera_id = v.camera_id AND snap.scheduled_at = v.scheduled_at)"
        )
        params += [now, *det_params]
    sql += (
        f", done AS (SELECT camera_id, count(*) AS n FROM snap GROUP BY camera_id)"
        f", cam AS (UPDATE {cam} SET captures_ok = captures_ok + done.n, consecutive_failures = 0, "
        f"last_capture_at = %s, lease_until = NULL FROM done WHERE {cam}.id = done.camera_id AND status = 'online' "
        f"RETURNING {cam}.id) "
        f"SELECT (SELECT array_agg(camera_id) FROM snap), (SELECT array_agg(scheduled_at) FROM snap), "
        f"(SELECT array_agg(id) FROM cam)"
    )
    params.append(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cameras, slots, updated = cursor.fetchone()
    for camera_id in set(cameras or []) - set(updated or []):
        camera_mark_success(camera_id=camera_id, at=now)  # a status change: logged as an event
    inserted = set(zip(cameras or [], slots or [], strict=True))
    stored = [e for e in entries if (e.camera_id, e.scheduled_at) in inserted]
    slots_count(outcome=STORED, slots=[(e.camera_id, e.scheduled_at.timestamp()) for e in stored])
    return stored


def _track(stored: list[StoreEntry]) -> int:
    """Sightings and counts of the frames just stored, in the same transaction."""
    places = camera_places(camera_ids={e.camera_id for e in stored})
    frames = []
    for e in stored:
        place = places.get(e.camera_id)
        if place is None:
            continue
        zone_id, gap_s = place.zone_id, place.gap_s
        codes = [
            Seen(format=c.format, text=_storable(c)[0], raw=_storable(c)[1], position=c.position)
            for c in e.result.codes
        ]
        frames.append(
            TrackedFrame(
                camera_id=e.camera_id,
                zone_id=zone_id,
                gap_s=gap_s,
                at=e.captured_at,
                codes=codes,
                no_read=e.result.no_read,
                gated=e.result.gated,
            )
        )
    result = frames_track(frames=frames, locked=True)
    track_result_announce(result)
    return len(result.opened)


def _observe(stored: list[StoreEntry], opened: int, store_s: float) -> None:
    """Metrics of a committed batch."""
    now = time.time()
    LATENCY.labels("store").observe(store_s)
    for e in stored:
        LATENCY.labels("end_to_end").observe(max(0.0, now - e.scheduled_at.timestamp()))
    DETECTIONS.inc(sum(len(e.result.codes) for e in stored))
    SIGHTINGS_OPENED.inc(opened)
    GATED.inc(sum(1 for e in stored if e.result.gated))


def snapshots_store(entries: list[StoreEntry]) -> int:
    """Write snapshots, their detections and their cameras' health atomically; returns how many were new.

    A slot already stored (a redelivered task) is skipped: nothing is doubled.
    """
    if not entries:
        return 0
    store = _store_postgres if connection.vendor == "postgresql" else _store_orm
    started = time.perf_counter()
    with transaction.atomic():
        # Locked before anything else is written, so that every writer takes its locks in the same
        # order: the camera rows (as a dispatch round does), then each camera's sightings.
        cameras_lock_rows(camera_ids=[e.camera_id for e in entries])
        cameras_lock(camera_ids=[e.camera_id for e in entries if e.result.codes])
        stored = store(entries, dt.datetime.now(dt.UTC))
        opened = _track(stored)
        transaction.on_commit(lambda: _observe(stored, opened, time.perf_counter() - started))
    if len(stored) < len(entries):
        logger.info("%d of %d snapshots were already stored", len(entries) - len(stored), len(entries))
    return len(stored)


def snapshot_store(
    *,
    camera_id: int,
    scheduled_at: dt.datetime,
    captured_at: dt.datetime,
    capture_ms: float,
    nbytes: int,
    result: DecodeResult,
) -> bool:
    """One snapshot; False when this slot was already stored."""
    entry = StoreEntry(camera_id, scheduled_at, captured_at, capture_ms, nbytes, result)
    return snapshots_store([entry]) == 1
