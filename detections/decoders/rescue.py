"""The second, expensive pass: only where the first pass saw a symbol it could not decode.

zxing-cpp reports failed attempts (checksum, format errors) with their corners in the same call
(return_errors=True). Those regions, and only those, are cropped and retried with the treatments
that recovered most of the first pass's misses on real photos: upscaling (few pixels per module),
a global-histogram binarizer (uneven light), erosion (overexposed prints whose dark modules bleed
thin) and zbar, whose scan-line finder fails differently from zxing's. Frames without codes make no
failed attempts, so they never get here.
"""

from collections.abc import Callable

import cv2
import numpy as np

from detections.decoders import zxing
from detections.decoders.types import Code, Quad

MAX_REGIONS = 4  # a frame full of undecodable symbols must not cost more than a few retries
SMALL_FRAME_PX = 640 * 480  # below this a whole-frame retry costs less than one 720p first pass
_MAX_SIDE = 1400  # upscaled crops stay below ~2 MP


def _box(quad: Quad, shape: tuple[int, ...], margin: float = 0.35) -> tuple[int, int, int, int]:
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    pad = margin * max(max(xs) - min(xs), max(ys) - min(ys)) + 8  # quiet zone plus corner error
    h, w = shape[:2]
    return (
        max(0, int(min(xs) - pad)),
        max(0, int(min(ys) - pad)),
        min(w, int(max(xs) + pad) + 1),
        min(h, int(max(ys) + pad) + 1),
    )


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def regions(failed: list[Quad], found: list[Code], shape: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Boxes around failed attempts that no decoded code explains, merged where they overlap."""
    done = [_box(c.position, shape, margin=0) for c in found]
    boxes: list[tuple[int, int, int, int]] = []
    for quad in failed:
        box = _box(quad, shape)
        cx, cy = sum(p[0] for p in quad) / 4, sum(p[1] for p in quad) / 4
        if any(d[0] <= cx <= d[2] and d[1] <= cy <= d[3] for d in done):
            continue  # the same symbol, decoded at another scale or rotation
        for i, other in enumerate(boxes):
            if _overlaps(box, other):
                boxes[i] = (min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]), max(box[3], other[3]))
                break
        else:
            boxes.append(box)
    return boxes[:MAX_REGIONS]


def _upscaled(crop: np.ndarray, factor: float) -> tuple[np.ndarray, float]:
    factor = min(factor, _MAX_SIDE / max(crop.shape))
    if factor <= 1.05:
        return crop, 1.0
    return cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC), factor


def _erode(img: np.ndarray) -> np.ndarray:
    return cv2.erode(img, np.ones((3, 3), np.uint8))


Step = Callable[[np.ndarray, list[str]], tuple[list[Code], float]]


def _zxing_step(factor: float, binarizer: str, erode: bool) -> Step:
    def step(crop: np.ndarray, formats: list[str]) -> tuple[list[Code], float]:
        img, scale = _upscaled(crop, factor)
        codes, _ = zxing.read(_erode(img) if erode else img, formats, binarizer=binarizer)
        return codes, scale

    return step


def _zbar_step(crop: np.ndarray, formats: list[str]) -> tuple[list[Code], float]:
    from detections.decoders.engines import zbar_codes  # zbar is optional: libzbar0 may be missing

    img, scale = _upscaled(crop, 1.5)
    return zbar_codes(_erode(img), formats, cross_check=False), scale


LADDER: list[Step] = [
    _zxing_step(2.0, "global", erode=False),
    _zxing_step(2.0, "local", erode=True),
    _zbar_step,
]


def _moved(code: Code, scale: float, x0: int, y0: int) -> Code:
    pos = [[round(x / scale) + x0, round(y / scale) + y0] for x, y in code.position]
    return Code(format=code.format, text=code.text, raw=code.raw, position=pos, engine=code.engine)


def rescue(gray: np.ndarray, formats: list[str], boxes: list[tuple[int, int, int, int]]) -> tuple[list[Code], int]:
    """Codes recovered in `boxes` (full-frame coordinates) and the number of engine calls spent."""
    codes: list[Code] = []
    calls = 0
    for x0, y0, x1, y1 in boxes:
        crop = gray[y0:y1, x0:x1]
        for step in LADDER:
            calls += 1
            try:
                found, scale = step(crop, formats)
            except ImportError:
                continue
            if found:
                codes += [_moved(c, scale, x0, y0) for c in found]
                break
    return codes, calls
