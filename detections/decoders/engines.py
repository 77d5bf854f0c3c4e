"""One first pass per engine, returning valid codes and the failed attempts that justify a second pass."""

import numpy as np

from detections.decoders import zxing
from detections.decoders.payload import zbar_payload
from detections.decoders.types import Code, Quad


def zbar_codes(image: np.ndarray, formats: list[str], *, cross_check: bool = True) -> list[Code]:
    """zbar's codes with honest text: UTF-8 as read, other bytes only when zxing reads the same bytes.

    zbar cannot see ECI headers and guesses charsets wrongly (GB2312 comes out as Shift-JIS), so a
    non-UTF-8 payload gets its text from zxing-cpp on a crop around the symbol, which is cheap; if
    zxing does not confirm the very same bytes, the code is reported with raw bytes and no text.
    """
    from detections.decoders import zbar  # imported late: ImportError when libzbar0 is missing

    codes = []
    for fmt, data, quad in zbar.read(image, formats):
        text, raw = zbar_payload(data)
        if text is None and cross_check:
            text, raw = _confirm(image, fmt, data, quad)
        codes.append(Code(format=fmt, text=text or "", raw=raw, position=quad, engine="zbar"))
    return codes


def _confirm(image: np.ndarray, fmt: str, data: bytes, quad: Quad) -> tuple[str | None, bytes | None]:
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    pad = max(max(xs) - min(xs), max(ys) - min(ys)) // 3 + 8
    h, w = image.shape
    crop = image[max(0, min(ys) - pad) : min(h, max(ys) + pad), max(0, min(xs) - pad) : min(w, max(xs) + pad)]
    found, _ = zxing.read(np.ascontiguousarray(crop), [fmt])
    for code in found:
        if (code.raw is None and code.text.encode("utf-8") == data) or code.raw == data:
            return code.text, code.raw
        if code.raw is None and code.text and _same_payload(code, data):
            return code.text, None
    return None, data


def _same_payload(code: Code, data: bytes) -> bool:
    """zxing's text came from the same bytes zbar saw, in whatever charset zxing decided on."""
    for charset in ("latin-1", "shift_jis", "gb2312", "utf-8"):
        try:
            if code.text.encode(charset) == data:
                return True
        except UnicodeEncodeError:
            continue
    return False


def first_pass(image: np.ndarray, formats: list[str], engine: str) -> tuple[list[Code], list[Quad]]:
    if engine == "zbar":
        from detections.decoders import zbar

        codes = zbar_codes(image, formats)
        rest = [f for f in formats if f not in zbar.FORMATS]  # microqr, datamatrix, aztec: zbar lacks them
        if rest:
            more, failed = zxing.read(image, rest)
            return codes + more, failed
        return codes, []
    return zxing.read(image, formats)
