"""Frame sources: one module per URL scheme. Each returns encoded image bytes, never raw pixels.

Every source must finish by the deadline it is given, whatever the camera does.
"""

import time
from concurrent.futures import Future
from dataclasses import dataclass
from urllib.parse import urlsplit

from cameras.sources.errors import CaptureError
from cameras.sources.imageinfo import inspect_image


@dataclass(frozen=True)
class Frame:
    data: bytes  # JPEG or PNG, exactly as received when the camera sent one
    width: int
    height: int
    kind: str  # "jpeg" or "png"


@dataclass(frozen=True)
class SourceConfig:
    """What a source needs to know about a camera, credentials included (never logged)."""

    url: str
    username: str = ""
    password: str = ""
    timeout_s: float = 5.0
    transport: str = "tcp"

    def __repr__(self) -> str:
        return f"SourceConfig(url={self.url!r}, timeout_s={self.timeout_s})"


def grab(config: SourceConfig) -> Frame:
    """Grab one fresh frame within config.timeout_s, or raise CaptureError."""
    deadline = time.monotonic() + config.timeout_s
    scheme = urlsplit(config.url).scheme.lower()
    if scheme in ("http", "https"):
        from cameras.sources import http

        data = http.grab(config, deadline)
    elif scheme in ("rtsp", "rtsps"):
        from cameras.sources import rtsp

        data = rtsp.grab(config, deadline)
    elif scheme == "file":
        from cameras.sources import file

        data = file.grab(config, deadline)
    else:
        raise CaptureError("bad_url", f"unsupported scheme {scheme!r}")
    return _frame(data)


def is_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def grab_http_many(configs: list[SourceConfig]) -> list[Future]:
    """Start grabbing from several HTTP(S) cameras at once, each within its own timeout; each future
    gives (Frame or CaptureError, milliseconds, time.time() at its end)."""
    from cameras.sources import http

    return http.grab_many(configs, _frame)


def _frame(data: bytes) -> Frame:
    kind, width, height = inspect_image(data)
    return Frame(data=data, width=width, height=height, kind=kind)


__all__ = ["CaptureError", "Frame", "SourceConfig", "grab", "grab_http_many", "is_http"]
