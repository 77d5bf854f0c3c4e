"""Stage 3, decode (cpu, prefork): fetch the parked frames of a batch, find their codes, store them all.

The frames are dropped from the frame store only after the write committed, so a redelivered task
still finds them.
"""

import datetime as dt
import time

from django.conf import settings

from cameras.models import Camera
from cameras.services import snapshot_record_failure
from cameras.sources import CaptureError
from camtrack.metrics import LATENCY
from detections.decoders import DecodeError, DecodeResult, decode_bytes
from pipeline import framestore
from pipeline.messages import FrameReady
from pipeline.store import StoreEntry, snapshots_store


def frame_decode(*, camera: Camera, data: bytes) -> DecodeResult:
    """Decode one frame with the camera's own settings."""
    return decode_bytes(
        data,
        formats=camera.format_list,
        engine=camera.engine or settings.CAMTRACK_DEFAULT_ENGINE,
        roi=camera.roi_box,
        downscale=camera.downscale,
    )


def _decode(frame: FrameReady, data: bytes) -> DecodeResult:
    return decode_bytes(
        data,
        formats=frame.formats.split(","),
        engine=frame.engine or settings.CAMTRACK_DEFAULT_ENGINE,
        roi=tuple(int(v) for v in frame.roi.split(",")) if frame.roi else None,
        downscale=frame.downscale or 1,
    )


def snapshots_decode(*, frames: list[FrameReady]) -> int:
    """Decode and store a batch of frames; returns how many slots were newly stored."""
    keys = [framestore.frame_key(f.camera_id, f.slot) for f in frames]
    entries = []
    for frame, data in zip(frames, framestore.frames_get(keys), strict=True):
        scheduled_at = dt.datetime.fromtimestamp(frame.slot, tz=dt.UTC)
        if data is None:
            error = CaptureError("expired", "frame expired before decoding")
            snapshot_record_failure(
                camera_id=frame.camera_id, scheduled_at=scheduled_at, error=error, capture_ms=frame.capture_ms
            )
            continue
        LATENCY.labels("capture").observe(frame.capture_ms / 1000)
        LATENCY.labels("wait").observe(max(0.0, time.time() - frame.captured_ts))
        try:
            result = _decode(frame, data)
        except DecodeError as exc:
            snapshot_record_failure(
                camera_id=frame.camera_id,
                scheduled_at=scheduled_at,
                error=CaptureError(exc.kind, exc.detail),
                capture_ms=frame.capture_ms,
            )
            continue
        LATENCY.labels("decode").observe(result.ms / 1000)
        captured_at = dt.datetime.fromtimestamp(frame.captured_ts, tz=dt.UTC)
        entries.append(StoreEntry(frame.camera_id, scheduled_at, captured_at, frame.capture_ms, frame.nbytes, result))
    stored = snapshots_store(entries)
    framestore.frames_delete(keys)
    return stored
