"""Stage 3, decode (cpu, prefork): fetch the parked frames of a batch, find their codes, store them all.

The frames are dropped from the frame store only after the write committed, so a redelivered task
still finds them.
"""

import datetime as dt
import time

import numpy as np
from django.conf import settings

from cameras.models import Camera
from cameras.services import snapshot_record_failure
from cameras.sources import CaptureError
from camtrack.metrics import LATENCY
from detections.decoders import DecodeError, DecodeResult, decode_bytes, decode_image, to_gray
from pipeline import framestore, gate
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


def _roi(frame: FrameReady) -> tuple[int, int, int, int] | None:
    return tuple(int(v) for v in frame.roi.split(",")) if frame.roi else None


def _decode(frame: FrameReady, data: bytes) -> DecodeResult:
    return decode_bytes(
        data,
        formats=frame.formats.split(","),
        engine=frame.engine or settings.CAMTRACK_DEFAULT_ENGINE,
        roi=_roi(frame),
        downscale=frame.downscale or 1,
    )


class _Gate:
    """The change gate over one batch: references read in one round trip, new ones written in one."""

    def __init__(self, frames: list[FrameReady]) -> None:
        on = settings.CAMTRACK_GATE_FULL_EVERY_S > 0
        self.cameras = {f.camera_id for f in frames if f.gate} if on else set()
        self.references = gate.references_get(self.cameras) if self.cameras else {}
        self.updates: dict[int, tuple[float, np.ndarray, DecodeResult, bool]] = {}

    def decode(self, frame: FrameReady, data: bytes) -> DecodeResult:
        if frame.camera_id not in self.cameras:
            return _decode(frame, data)
        start = time.perf_counter()
        roi = _roi(frame)
        reference = self.references.get(frame.camera_id)
        thumb = None
        # A camera whose last decode had changed is decoded at once (see gate: the check would cost
        # more than it saves while the scene keeps moving).
        if gate.may_carry(frame.slot, reference) and not reference.moving:
            thumb = gate.thumbnail(data, roi)
            if thumb is not None and not gate.changed(thumb, reference.thumb):
                return gate.carried(reference, ms=(time.perf_counter() - start) * 1000)
        downscale = frame.downscale or 1
        image = to_gray(data, downscale=downscale)
        result = decode_image(
            image,
            formats=frame.formats.split(","),
            engine=frame.engine or settings.CAMTRACK_DEFAULT_ENGINE,
            roi=roi,
            downscale=downscale,
            started=start,
        )
        if reference is None or frame.slot > reference.slot:
            if thumb is None and (reference is None or gate.same_codes(result, reference.result)):
                thumb = gate.thumbnail_of(image, downscale=downscale, roi=roi)
            if thumb is None:
                # Its codes moved, came or went: the picture changed, and no thumbnail is needed to
                # tell. The reference holds none, so no frame can be gated against it.
                thumb, moving = gate.NO_THUMB, True
            else:
                moving = reference is not None and reference.has_thumb and gate.changed(thumb, reference.thumb)
            self.updates[frame.camera_id] = (frame.slot, thumb, result, moving)
            self.references[frame.camera_id] = gate.Reference(frame.slot, thumb, gate.result_dict(result), moving)
        return result

    def save(self) -> None:
        gate.references_put(self.updates)


def snapshots_decode(*, frames: list[FrameReady]) -> int:
    """Decode and store a batch of frames; returns how many slots were newly stored."""
    keys = [framestore.frame_key(f.camera_id, f.slot) for f in frames]
    entries = []
    latest: dict[int, tuple[float, str, dict]] = {}
    gated = _Gate(frames)
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
            result = gated.decode(frame, data)
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
        if frame.slot >= latest.get(frame.camera_id, (float("-inf"),))[0]:
            key = framestore.frame_key(frame.camera_id, frame.slot)
            latest[frame.camera_id] = (frame.slot, key, _latest_meta(scheduled_at, captured_at, result))
    stored = snapshots_store(entries)
    gated.save()
    framestore.frames_done(keys, latest)
    return stored


def _latest_meta(scheduled_at: dt.datetime, captured_at: dt.datetime, result: DecodeResult) -> dict:
    return {
        "scheduled_at": scheduled_at.isoformat(),
        "captured_at": captured_at.isoformat(),
        "width": result.width,
        "height": result.height,
        "codes": [{"format": c.format, "text": c.text, "position": c.position} for c in result.codes],
    }
