"""file:// cameras: an image or a video below CAMTRACK_FILE_ROOT (anything else is refused)."""

from pathlib import Path
from urllib.parse import unquote, urlsplit

import av
import cv2
import numpy as np
from django.conf import settings

from cameras.sources.errors import CaptureError
from cameras.sources.imageinfo import sniff

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".ts", ".h264", ".h265", ".hevc"}


def resolve(url: str) -> Path:
    root = Path(settings.CAMTRACK_FILE_ROOT).resolve()
    raw = unquote(urlsplit(url).path)
    path = Path(raw) if Path(raw).is_absolute() else root / raw
    path = path.resolve()
    if path != root and root not in path.parents:
        raise CaptureError("forbidden", "path is outside the file root")
    if not path.is_file():
        raise CaptureError("not_found", "no such file")
    return path


def _video_frame(path: Path) -> bytes:
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                gray = frame.to_ndarray(format="gray")
                ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 92])
                return buf.tobytes()
    except av.error.FFmpegError:
        raise CaptureError("not_an_image", "video could not be decoded") from None
    raise CaptureError("empty", "video has no frame")


def grab(config, deadline: float) -> bytes:
    path = resolve(config.url)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return _video_frame(path)
    data = path.read_bytes()
    if sniff(data) is not None:
        return data
    # Other image formats (BMP, TIFF, WebP): decode once and hand over PNG.
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise CaptureError("not_an_image", "file is not an image")
    ok, buf = cv2.imencode(".png", image)
    return buf.tobytes()
