"""Frame sources: one module per URL scheme. Each returns encoded image bytes, never raw pixels.

Every source must finish by the deadline it is given, whatever the camera does.
"""

import time
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
    kind, width, height = inspect_image(data)
    return Frame(data=data, width=width, height=height, kind=kind)


__all__ = ["CaptureError", "Frame", "SourceConfig", "grab"]
