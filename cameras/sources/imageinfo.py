"""Reads an image's kind and size from its header, so oversized or broken frames are refused
before anything allocates pixels for them."""

import struct

from django.conf import settings

from cameras.sources.errors import CaptureError

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers carry the size; C4, C8 and CC are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def sniff(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise CaptureError("not_an_image", "corrupt JPEG marker")
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF:
            if i + 9 > n:
                break
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    raise CaptureError("truncated", "JPEG ends before its frame header")


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """Return (kind, width, height) or raise CaptureError(empty|not_an_image|truncated|too_large)."""
    if not data:
        raise CaptureError("empty", "no bytes received")
    kind = sniff(data)
    if kind is None:
        raise CaptureError("not_an_image", f"starts with {data[:8]!r}")
    if kind == "jpeg":
        width, height = _jpeg_size(data)
        # A JPEG ends with EOI; tolerate trailing padding some cameras add.
        if b"\xff\xd9" not in data[-64:]:
            raise CaptureError("truncated", f"JPEG has no end marker ({len(data)} bytes)")
    else:
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise CaptureError("truncated", "PNG ends before its header")
        width, height = struct.unpack(">II", data[16:24])
        if not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
            raise CaptureError("truncated", f"PNG has no end chunk ({len(data)} bytes)")
    if width == 0 or height == 0:
        raise CaptureError("empty", "image has no pixels")
    if width * height > settings.CAMTRACK_MAX_FRAME_PIXELS:
        raise CaptureError("too_large", f"{width}x{height} exceeds the pixel limit")
    return kind, width, height
