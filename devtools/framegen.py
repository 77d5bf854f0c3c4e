"""Synthetic camera frames with codes in them, for tests and benchmarks.

Every function is deterministic for a given `seed`, returns JPEG bytes (or a gray array where the name
says so) and needs only segno, numpy and OpenCV. Frames look like a camera scene: a textured, uneven
background with the code printed on a white label placed somewhere in it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import segno

Size = tuple[int, int]  # (width, height)


def qr_matrix(text: str | bytes, *, encoding: str | None = None, error: str = "m", micro: bool = False) -> np.ndarray:
    """The symbol as a uint8 array, 0 for dark modules, 255 for light, with a 4-module quiet zone.

    `bytes` become a QR byte segment as they are (no ECI), which is how Shift-JIS or GB text
    usually reaches a camera; `encoding=` makes segno add an ECI header instead.
    """
    qr = segno.make(text, encoding=encoding, error=error, micro=micro, boost_error=False)
    rows = list(qr.matrix_iter(scale=1, border=2 if micro else 4))
    return np.where(np.array(rows, bool), 0, 255).astype(np.uint8)


def background(size: Size = (1280, 720), *, seed: int = 0, level: int = 120, texture: int = 25) -> np.ndarray:
    """A smooth uneven scene: low-frequency shading plus some clutter, no code-like structure."""
    w, h = size
    rng = np.random.default_rng(seed)
    coarse = rng.normal(level, texture, (9, 16)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(12):  # a few blurry boxes: shelves, pallets, shadows
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        bw, bh = int(rng.integers(w // 20, w // 4)), int(rng.integers(h // 20, h // 4))
        cv2.rectangle(img, (x, y), (x + bw, y + bh), float(rng.normal(level, texture * 1.5)), -1)
    img = cv2.GaussianBlur(img, (0, 0), 3)
    img += rng.normal(0, 3, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def place(
    frame: np.ndarray,
    symbol: np.ndarray,
    *,
    center: tuple[float, float],
    module_px: float,
    angle: float = 0.0,
    tilt: float = 0.0,
    contrast: float = 1.0,
) -> list[tuple[float, float]]:
    """Paste `symbol` into `frame` in place; returns the four corners of the symbol in frame pixels.

    `tilt` (0..0.4) narrows one side to fake perspective; `contrast` < 1 moves dark and light toward grey.
    """
    n = symbol.shape[0]
    side = n * module_px
    half = side / 2
    sq = np.float32([[-half, -half], [half, -half], [half, half], [-half, half]])
    sq[1, 1] += tilt * side / 2  # right edge shorter: the label leans away from the camera
    sq[2, 1] -= tilt * side / 2
    rad = np.deg2rad(angle)
    rot = np.float32([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]])
    dst = sq @ rot.T + np.float32(center)
    src = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    m = cv2.getPerspectiveTransform(src, dst)
    h, w = frame.shape
    lo, hi = 128 - 127 * contrast, 128 + 127 * contrast
    ink = (symbol.astype(np.float32) / 255) * (hi - lo) + lo
    warped = cv2.warpPerspective(ink, m, (w, h), flags=cv2.INTER_AREA, borderValue=0)
    mask = cv2.warpPerspective(np.ones_like(ink), m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    frame[:] = np.clip(frame * (1 - mask) + warped * mask, 0, 255).astype(np.uint8)
    return [tuple(map(float, p)) for p in dst]


def degrade(
    frame: np.ndarray,
    *,
    blur: float = 0.0,
    noise: float = 2.0,
    glare: float = 0.0,
    glare_at: tuple[float, float] = (0.5, 0.4),
    seed: int = 0,
) -> np.ndarray:
    """Camera defects: defocus blur (sigma in px), sensor noise, a bright glare spot (0..1)."""
    img = frame.astype(np.float32)
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if glare:
        h, w = img.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy, r = glare_at[0] * w, glare_at[1] * h, 0.12 * min(w, h)
        img += glare * 255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    if noise:
        img += np.random.default_rng(seed).normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg(gray: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def png(gray: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", gray)
    assert ok
    return buf.tobytes()


def qr_gray(
    text: str | bytes,
    size: Size = (1280, 720),
    *,
    module_px: float = 4.0,
    center: tuple[float, float] | None = None,
    angle: float = 0.0,
    tilt: float = 0.0,
    blur: float = 0.0,
    contrast: float = 1.0,
    glare: float = 0.0,
    encoding: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """One QR code in a camera-like gray frame; `center` is a fraction of the frame (default: middle)."""
    frame = background(size, seed=seed)
    cx, cy = center or (0.5, 0.5)
    place(
        frame,
        qr_matrix(text, encoding=encoding),
        center=(cx * size[0], cy * size[1]),
        module_px=module_px,
        angle=angle,
        tilt=tilt,
        contrast=contrast,
    )
    return degrade(frame, blur=blur, glare=glare, glare_at=(cx, cy), seed=seed)


def qr_frame(text: str | bytes, size: Size = (1280, 720), *, quality: int = 85, **kwargs: object) -> bytes:
    """`qr_gray` compressed as a JPEG, like a camera snapshot. Takes the same keyword arguments."""
    return jpeg(qr_gray(text, size, **kwargs), quality)  # type: ignore[arg-type]


def multi_frame(
    texts: Sequence[str | bytes],
    size: Size = (1280, 720),
    *,
    module_px: float = 4.0,
    quality: int = 85,
    seed: int = 0,
) -> bytes:
    """Several QR codes spread over a grid of the frame, each a little rotated."""
    frame = background(size, seed=seed)
    cols = int(np.ceil(np.sqrt(len(texts))))
    rows = int(np.ceil(len(texts) / cols))
    for i, text in enumerate(texts):
        r, c = divmod(i, cols)
        center = ((c + 0.5) / cols * size[0], (r + 0.5) / rows * size[1])
        place(frame, qr_matrix(text), center=center, module_px=module_px, angle=7 * i - 10)
    return jpeg(degrade(frame, seed=seed), quality)


def empty_frame(size: Size = (1280, 720), *, quality: int = 85, seed: int = 0) -> bytes:
    """A scene with no code at all: what most camera frames look like."""
    return jpeg(degrade(background(size, seed=seed), seed=seed), quality)


def rotate(data: bytes, degrees: int) -> bytes:
    """Rotate an encoded frame by a multiple of 90 degrees (clockwise), re-encoded as PNG (lossless)."""
    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return png(cv2.rotate(gray, codes[degrees]) if degrees % 360 else gray)


def barcode_frame(kind: str, text: str, size: Size = (1280, 720), *, seed: int = 0, scale: int = 3) -> bytes:
    """A frame with one symbol of another format, when this module can draw it: code128 or microqr."""
    frame = background(size, seed=seed)
    if kind == "microqr":
        place(frame, qr_matrix(text, micro=True), center=(size[0] / 2, size[1] / 2), module_px=6)
    elif kind == "code128":
        bars = _code128_modules(text)
        strip = np.repeat(np.where(np.array(bars, bool), 0, 255).astype(np.uint8), scale)
        strip = np.pad(strip, 10 * scale, constant_values=255)[None, :].repeat(max(60, len(strip) // 4), 0)
        h, w = strip.shape
        y, x = (size[1] - h) // 2, (size[0] - w) // 2
        frame[y : y + h, x : x + w] = strip
    else:
        raise ValueError(f"cannot draw {kind}")
    return jpeg(degrade(frame, seed=seed), 90)


_C128_TABLE = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 122132 122231 "
    "113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 231113 231311 112133 112331 132131 "
    "113123 113321 133121 313121 211331 231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 112412 122114 122411 142112 142211 "
    "241211 221114 413111 241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412 211214 "
    "211232 2331112"
)
_C128 = _C128_TABLE.split()


def _code128_modules(text: str) -> list[int]:
    """Code 128 set B: enough to test a linear format without another dependency."""
    values = [104] + [ord(ch) - 32 for ch in text]
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], 1))) % 103
    out: list[int] = []
    for v in [*values, check, 106]:
        for j, width in enumerate(_C128[v]):
            out += [1 - j % 2] * int(width)
    return out
