"""One capture, decode and store outside the queue (``manage.py capture``), recorded like a scheduled slot."""

import datetime as dt
import time

from cameras.models import Camera
from cameras.services import snapshot_record_failure
from cameras.sources import CaptureError
from detections.decoders import DecodeError
from pipeline.capture import frame_capture
from pipeline.decode import frame_decode
from pipeline.store import snapshot_store


def capture_now(*, camera: Camera) -> dict:
    """Capture and decode one frame now; returns what happened as JSON-ready values."""
    scheduled_ts = round(time.time(), 6)
    scheduled_at = dt.datetime.fromtimestamp(scheduled_ts, tz=dt.UTC)
    out: dict = {
        "camera": camera.name,
        "ok": False,
        "error": None,
        "capture_ms": None,
        "decode_ms": None,
        "detections": [],
    }
    start = time.perf_counter()
    try:
        frame, capture_ms = frame_capture(camera=camera)
        out["capture_ms"] = round(capture_ms, 2)
        result = frame_decode(camera=camera, data=frame.data)
    except (CaptureError, DecodeError) as exc:
        elapsed = (time.perf_counter() - start) * 1000
        err = exc if isinstance(exc, CaptureError) else CaptureError(exc.kind, exc.detail)
        snapshot_record_failure(camera_id=camera.pk, scheduled_at=scheduled_at, error=err, capture_ms=round(elapsed, 2))
        out["error"] = str(err)
        return out
    snapshot_store(
        camera_id=camera.pk,
        scheduled_at=scheduled_at,
        captured_at=dt.datetime.now(dt.UTC),
        capture_ms=capture_ms,
        nbytes=len(frame.data),
        result=result,
    )
    out["ok"] = True
    out["decode_ms"] = round(result.ms, 2)
    out["detections"] = [code.as_dict() for code in result.codes]
    return out
