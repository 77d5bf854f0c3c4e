"""Find and decode codes in a camera frame. Two engines: zxing-cpp (default) and zbar.

The camera-speed path is one grayscale JPEG decode and one engine call: what the bare library costs.
A second pass runs only on regions where that call met a symbol it could not decode (see rescue.py),
or on small images where it is cheaper than a first pass on a camera frame.
"""

import time

import cv2
import numpy as np

from cameras.codes import DEFAULT_FORMATS, ENGINES, FORMATS
from detections.decoders import engines, rescue, zxing
from detections.decoders.types import Code, DecodeError, DecodeResult, Quad

__all__ = [
    "ENGINES",
    "FORMATS",
    "Code",
    "DecodeError",
    "DecodeResult",
    "decode_bytes",
    "decode_gray",
    "decode_image",
    "to_gray",
]

# zbar reads microqr/datamatrix/aztec through zxing-cpp (see engines.py).
# JPEG can decode at 1/2, 1/4, 1/8 size for a fraction of the cost (DCT scaling): for big frames
# whose codes are known to be large. zxing-cpp also tries downscaled copies itself (try_downscale).
_REDUCED = {
    1: cv2.IMREAD_GRAYSCALE,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


def to_gray(data: bytes, *, downscale: int = 1) -> np.ndarray:
    """Encoded image (JPEG, PNG, ...) straight to one 8-bit channel: no BGR frame is ever built."""
    if downscale not in _REDUCED:
        raise DecodeError("bad_downscale", f"{downscale} is not one of 1, 2, 4, 8")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED[downscale]) if data else None
    if image is None:
        raise DecodeError("not_an_image", "image could not be decoded")
    return image


def check_formats(formats: list[str] | None) -> list[str]:
    formats = list(formats or DEFAULT_FORMATS)
    unknown = [f for f in formats if f not in zxing.FORMATS]
    if unknown:
        raise DecodeError("bad_format", f"unknown format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
    return formats


def _decode(image: np.ndarray, formats: list[str], engine: str) -> tuple[list[Code], int, bool]:
    """Codes, engine calls made, and whether the first pass met a symbol it could not read."""
    if engine not in ENGINES:
        raise DecodeError("bad_engine", f"{engine!r} is not one of {', '.join(ENGINES)}")
    try:
        codes, failed = engines.first_pass(image, formats, engine)
    except ImportError as exc:
        raise DecodeError("engine_unavailable", f"{engine}: {exc}") from exc
    boxes = rescue.regions(failed, codes, image.shape)
    suspect = bool(boxes)
    if not codes and not boxes and image.size <= rescue.SMALL_FRAME_PX:
        boxes = [(0, 0, image.shape[1], image.shape[0])]
    if not boxes:
        return codes, 1, suspect
    more, calls = rescue.rescue(image, formats, boxes)
    return codes + more, 1 + calls, suspect


def decode_gray(image: np.ndarray, *, formats: list[str] | None = None, engine: str = "zxing") -> list[Code]:
    """Codes in a grayscale uint8 array, positions in its pixels."""
    return _decode(np.ascontiguousarray(image), check_formats(formats), engine)[0]


def _scaled(codes: list[Code], factor: int, x0: int, y0: int) -> list[Code]:
    if factor == 1 and not x0 and not y0:
        return codes
    out = []
    for c in codes:
        pos: Quad = [[x * factor + x0, y * factor + y0] for x, y in c.position]
        out.append(Code(format=c.format, text=c.text, raw=c.raw, position=pos, engine=c.engine))
    return out


def decode_bytes(
    data: bytes,
    *,
    formats: list[str] | None = None,
    engine: str = "zxing",
    roi: tuple[int, int, int, int] | None = None,
    downscale: int = 1,
) -> DecodeResult:
    """Decode an encoded frame and find codes in it, or in `roi` = (x, y, w, h) of the full frame.

    Positions are always in full-frame pixels, whatever `roi` and `downscale` (1, 2, 4 or 8) say.
    """
    start = time.perf_counter()
    formats = check_formats(formats)
    image = to_gray(data, downscale=downscale)
    return decode_image(image, formats=formats, engine=engine, roi=roi, downscale=downscale, started=start)


def decode_image(
    image: np.ndarray,
    *,
    formats: list[str] | None = None,
    engine: str = "zxing",
    roi: tuple[int, int, int, int] | None = None,
    downscale: int = 1,
    started: float | None = None,
) -> DecodeResult:
    """``decode_bytes`` for a frame already decoded by ``to_gray(data, downscale=downscale)``.

    ``started`` (time.perf_counter()) is when work on the frame began, for the result's ``ms``.
    """
    start = time.perf_counter() if started is None else started
    formats = check_formats(formats)
    full_h, full_w = image.shape[0] * downscale, image.shape[1] * downscale
    x0 = y0 = 0
    if roi is not None:
        x, y, w, h = (int(v) for v in roi)
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x >= full_w or y >= full_h:
            raise DecodeError("bad_roi", f"{roi} is outside the {full_w}x{full_h} frame")
        x0, y0 = x // downscale, y // downscale
        # A view, not a copy: zxing-cpp and zbar both accept row strides (contiguity is restored only for zbar).
        image = image[y0 : (y + h) // downscale, x0 : (x + w) // downscale]
    codes, passes, suspect = _decode(image, formats, engine)
    codes = _scaled(codes, downscale, x0 * downscale, y0 * downscale)
    ms = (time.perf_counter() - start) * 1000
    return DecodeResult(codes=codes, width=full_w, height=full_h, ms=ms, passes=passes, no_read=suspect and not codes)
