"""Stage 2, capture (io, threads): grab the frames of a batch of due cameras, park them in the frame
store and hand them to decoding as one task; record the slots that could not be captured."""

import datetime as dt
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

import redis
from celery import Task
from django.conf import settings
from django.db import DatabaseError
from kombu.exceptions import OperationalError as BrokerError

from cameras.models import Camera
from cameras.schedule import cameras_release, captures_dropped
from cameras.services import snapshot_record_failure, source_config
from cameras.slots import OUTAGE
from cameras.sources import CaptureError, Frame, grab, grab_http_many, is_http
from pipeline import framestore
from pipeline.messages import CaptureSlot, FrameReady

logger = logging.getLogger(__name__)
_camera_cache: dict[int, tuple[float, Camera]] = {}
_CAMERA_FIELDS = (
    "roi",
    "downscale",
    "id",
    "name",
    "url",
    "username",
    "password",
    "timeout_s",
    "transport",
    "formats",
    "engine",
    "interval_s",
    "change_gate",
)
_pool: tuple[int, ThreadPoolExecutor] | None = None
_LATE_GRACE_S = 1.0
# A decode task's time limits: a frame seldom takes 50 ms (1080p, every format, the rescue passes);
# a task that runs past its limit is killed, and its slots are recorded as lost by the ledger.
DECODE_SOFT_LIMIT_S = 30.0
DECODE_S_PER_FRAME = 0.5
DECODE_HARD_MARGIN_S = 15.0
_pool_lock = threading.Lock()


def _cameras(ids: list[int]) -> dict[int, Camera]:
    """Capture settings, cached briefly per process: at hundreds of captures a second one SELECT
    each is a measurable share of the io stage. Edits apply within CAMTRACK_CAMERA_CACHE_S."""
    now = time.monotonic()
    found = {}
    missing = []
    for camera_id in ids:
        hit = _camera_cache.get(camera_id)
        if hit is not None and hit[0] > now:
            found[camera_id] = hit[1]
        else:
            missing.append(camera_id)
    if missing:
        for camera in Camera.objects.filter(pk__in=missing).only(*_CAMERA_FIELDS):
            _camera_cache[camera.pk] = (now + settings.CAMTRACK_CAMERA_CACHE_S, camera)
            found[camera.pk] = camera
    return found


def frame_capture(*, camera: Camera) -> tuple[Frame, float]:
    """Grab one frame within the camera's timeout; returns the frame and the milliseconds it took."""
    start = time.perf_counter()
    frame = grab(source_config(camera))
    return frame, (time.perf_counter() - start) * 1000


def _grab_pool() -> ThreadPoolExecutor:
    # Members of a batch are grabbed side by side so one slow camera adds nothing to the others.
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(settings.CAMTRACK_GRAB_THREADS, thread_name_prefix="grab"))
        return _pool[1]


def _grab(camera: Camera) -> tuple[Frame | CaptureError, float, float]:
    try:
        frame, ms = frame_capture(camera=camera)
    except CaptureError as exc:
        return exc, 0.0, time.time()
    return frame, ms, time.time()


def _hand_over(done: list[tuple[Camera, float, tuple]]) -> int:
    """Park the frames and send them to the cpu stage as one decode task; record the failures.

    Frames go first: once their decode task is sent, nothing here may raise (a retried capture would
    count those slots a second time), so a database that fails afterwards costs a lease release (it
    expires by itself) or the record of a failed slot, never a frame.
    """
    from pipeline.tasks import decode

    frames: dict[str, bytes] = {}
    ready: list[FrameReady] = []
    failed: list[tuple[Camera, float, CaptureError]] = []
    for camera, slot, (outcome, capture_ms, captured_ts) in done:
        if isinstance(outcome, CaptureError):
            failed.append((camera, slot, outcome))
            continue
        frames[framestore.frame_key(camera.pk, slot)] = outcome.data
        ready.append(
            FrameReady(
                camera_id=camera.pk,
                slot=slot,
                captured_ts=captured_ts,
                capture_ms=round(capture_ms, 2),
                nbytes=len(outcome.data),
                formats=camera.formats,
                engine=camera.engine,
                roi=camera.roi,
                downscale=camera.downscale,
                gate=camera.change_gate,
            )
        )
    sent = _send(decode, frames, ready) if ready else 0
    try:
        if sent:
            # The grab is over: a camera whose captures could overlap (timeout longer than interval, the
            # only case where a held lease skips a slot) may be claimed again now, not once it is stored.
            cameras = {camera.pk: camera for camera, *_ in done}
            overlapping = [
                f.camera_id for f in ready if cameras[f.camera_id].interval_s < cameras[f.camera_id].timeout_s
            ]
            if overlapping:
                cameras_release(camera_ids=overlapping)
        for camera, slot, error in failed:
            scheduled_at = dt.datetime.fromtimestamp(slot, tz=dt.UTC)
            snapshot_record_failure(camera_id=camera.pk, scheduled_at=scheduled_at, error=error)
    except DatabaseError as exc:
        logger.warning("capture: database refused after the frames were sent: %s", exc)
    return sent


def _send(decode: Task, frames: dict[str, bytes], ready: list[FrameReady]) -> int:
    try:
        framestore.frames_put(frames)
    except redis.RedisError as exc:
        # The frame store stayed down through its retries: nowhere to park the frames.
        logger.warning("capture: frame store refused %d frames: %s", len(ready), exc)
        captures_dropped(slots=[(f.camera_id, f.slot) for f in ready], reason=OUTAGE)
        return 0
    # The decode task's own limits hold for a small batch; a large one gets its frames' share.
    soft_limit = max(DECODE_SOFT_LIMIT_S, DECODE_S_PER_FRAME * len(ready))
    try:
        decode.apply_async(
            ([f.to_json() for f in ready],),
            soft_time_limit=soft_limit,
            time_limit=soft_limit + DECODE_HARD_MARGIN_S,
            expires=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.CAMTRACK_FRAME_TTL_S),
            argsrepr=f"[{len(ready)} frames: {ready[0].camera_id}...]",
            kwargsrepr="{}",
        )
    except BrokerError as exc:
        # The broker stayed down through the publish retries: these frames cannot be decoded, and
        # their slots are counted as skipped (outage) rather than silently lost.
        logger.warning("capture: broker refused %d frames for decoding: %s", len(ready), exc)
        captures_dropped(slots=[(f.camera_id, f.slot) for f in ready], reason=OUTAGE)
        return 0
    return len(ready)


def snapshots_capture(*, slots: list[CaptureSlot]) -> int:
    """Capture every slot of a batch; returns how many frames went on to decoding."""
    cameras = _cameras([s.camera_id for s in slots])
    todo = [(cameras[s.camera_id], s.slot) for s in slots if s.camera_id in cameras]
    if len(todo) == 1:
        camera, slot = todo[0]
        return _hand_over([(camera, slot, _grab(camera))])
    # A batch is grabbed side by side: HTTP cameras on the process's HTTP loop in one hand-over, the
    # others from a pool of threads. Frames ready within CAMTRACK_STRAGGLER_S go on at once, so a
    # camera that turned slow delays the others' results by that much at most, not by its timeout.
    http = [(camera, slot) for camera, slot in todo if is_http(camera.url)]
    futures = dict(zip(grab_http_many([source_config(c) for c, _ in http]), http, strict=True)) if http else {}
    futures.update(
        {_grab_pool().submit(_grab, camera): (camera, slot) for camera, slot in todo if not is_http(camera.url)}
    )
    ready, late = wait(futures, timeout=settings.CAMTRACK_STRAGGLER_S)
    sent = _hand_over([(*futures[f], f.result()) for f in ready])
    if late:
        # Every source ends by its deadline; this bound only guards against one that would not.
        longest = max(futures[f][0].timeout_s for f in late)
        _, stuck = wait(late, timeout=longest + _LATE_GRACE_S)
        outcomes = [(*futures[f], _outcome(f)) for f in late]
        if stuck:
            logger.error("capture: %d grabs outlived their deadline", len(stuck))
        sent += _hand_over(outcomes)
    return sent


def _outcome(future: Future) -> tuple[Frame | CaptureError, float, float]:
    if future.done():
        return future.result()
    future.cancel()
    return CaptureError("timeout", "no answer in time"), 0.0, time.time()
