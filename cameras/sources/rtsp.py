"""RTSP cameras through FFmpeg (PyAV), with options per call so threads never share them.

A session opened for one snapshot yields a live frame, not a buffered stale one.
"""

import contextlib
import threading
import time
from urllib.parse import quote, urlsplit, urlunsplit

import av
import cv2

from cameras.sources.errors import CaptureError

JPEG_QUALITY = 92


def with_credentials(config) -> str:
    """The URL FFmpeg opens, credentials included: never log it."""
    if not config.username and not config.password:
        return config.url
    parts = urlsplit(config.url)
    userinfo = quote(config.username, safe="") + ":" + quote(config.password, safe="")
    netloc = f"{userinfo}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def classify(exc: Exception, config) -> CaptureError:
    """An FFmpeg error as a capture error class, with the password taken out of its text."""
    # FFmpeg's message without the URL PyAV appends: a port like :44013 would otherwise read as "401".
    text = getattr(exc, "strerror", None) or str(exc)
    if config.password:
        text = text.replace(config.password, "***").replace(quote(config.password, safe=""), "***")
    low = text.lower()
    if "401" in low or "unauthorized" in low or "403" in low:
        return CaptureError("auth_failed", "camera refused the credentials")
    if "connection refused" in low:
        return CaptureError("refused", "connection refused")
    if "timed out" in low or "timeout" in low or "interrupted" in low or "eagain" in low:
        return CaptureError("timeout", "no frame in time")
    if "name or service" in low or "resolve" in low or "getaddrinfo" in low:
        return CaptureError("dns", "host name does not resolve")
    if "404" in low or "not found" in low:
        return CaptureError("http_404", "stream not found")
    if "end of file" in low:
        return CaptureError("empty", "stream ended before a frame")
    return CaptureError("stream", text[:200])


def _open_and_decode(config, deadline: float, out: dict) -> None:
    left = max(deadline - time.monotonic(), 0.05)
    options = {
        "rtsp_transport": config.transport or "tcp",
        # FFmpeg >= 5 names the socket timeout "timeout" (microseconds).
        "timeout": str(int(left * 1_000_000)),
        # Minimal probing: ~0.13 s to open instead of ~2.8 s.
        "analyzeduration": "0",
        "probesize": "32768",
        "fflags": "nobuffer",
        "flags": "low_delay",
    }
    container = None
    try:
        container = av.open(with_credentials(config), options=options, timeout=(left, left))
        out["container"] = container
        stream = next((s for s in container.streams if s.type == "video"), None)
        if stream is None:
            raise CaptureError("empty", "no video stream")
        stream.thread_type = "AUTO"
        for packet in container.demux(stream):
            if time.monotonic() > deadline:
                raise CaptureError("timeout", "no decodable frame in time")
            for frame in packet.decode():
                gray = frame.to_ndarray(format="gray")
                ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if not ok:
                    raise CaptureError("not_an_image", "frame could not be encoded")
                out["data"] = buf.tobytes()
                return
        raise CaptureError("empty", "stream ended before a frame")
    except CaptureError as exc:
        out["error"] = exc
    except Exception as exc:  # av raises many typed errors; all become one error class
        error = classify(exc, config)
        # A server that accepts and never answers makes FFmpeg's cut-short read surface as
        # "Invalid data found"; an unclassified failure at the deadline is the deadline's doing.
        if error.kind == "stream" and time.monotonic() >= deadline - 0.1:
            error = CaptureError("timeout", "no answer in time")
        out["error"] = error
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()


def grab(config, deadline: float) -> bytes:
    # FFmpeg's own timeouts cover most stalls; the watchdog thread bounds the rest so the
    # io thread always returns by the deadline (a stuck FFmpeg call is left to finish alone).
    out: dict = {}
    worker = threading.Thread(target=_open_and_decode, args=(config, deadline, out), daemon=True)
    worker.start()
    worker.join(max(deadline - time.monotonic(), 0) + 0.5)
    if worker.is_alive():
        raise CaptureError("timeout", "camera did not deliver a frame in time")
    if "error" in out:
        raise out["error"]
    return out["data"]
