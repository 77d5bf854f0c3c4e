"""Timing a capture through the real source layer, for the source and fault tests."""

import time

from cameras.sources import CaptureError, Frame, SourceConfig, grab


def timed_grab(url: str, timeout_s: float = 2.0, **kwargs: str) -> tuple[Frame | CaptureError, float]:
    """(Frame or CaptureError, seconds the capture took)."""
    start = time.monotonic()
    try:
        result = grab(SourceConfig(url=url, timeout_s=timeout_s, **kwargs))
    except CaptureError as exc:
        result = exc
    return result, time.monotonic() - start
