"""Turning a symbol's payload bytes into the right text, or into none.

The rule for both engines: `text` is what the symbol says, decoded with the charset it declares (ECI)
or the one it evidently uses; when that cannot be known, `text` is "" and `raw` carries the bytes.
A wrong transcoding is worse than none: it would be stored, searched and matched as if it were true.
"""

import re

# QR byte mode without ECI is ISO-8859-1 by the standard, but Chinese printers put GB2312 there.
# zxing-cpp guesses UTF-8 and Shift-JIS from the bytes but renders GB as Latin-1 mojibake.
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN1_HIGH_RUN = re.compile(rb"[\xa1-\xfe]{2}")


def utf8_or_none(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def gb_text(data: bytes) -> str | None:
    """The GB2312 reading of `data` when the bytes can only sensibly be GB text, else None.

    Strict GB2312 needs every byte >= 0xA1 to pair with another; Latin-1 text puts single accented
    letters between ASCII ones, so it almost never decodes strictly and also contains Han characters.
    """
    if data.isascii() or not _LATIN1_HIGH_RUN.search(data):
        return None
    try:
        text = data.decode("gb2312")
    except UnicodeDecodeError:
        return None
    return text if _HAN.search(text) else None


def zxing_payload(text: str, data: bytes, *, binary: bool, eci: bool) -> tuple[str, bytes | None]:
    """zxing-cpp already applied ECI and its charset guess (text_mode=Plain); fix GB, split binary."""
    if binary:
        return utf8_or_none(data) or "", data
    if not eci and text == data.decode("latin-1"):
        gb = gb_text(data)
        if gb is not None:
            return gb, None
    return text, None


def zbar_payload(data: bytes) -> tuple[str | None, bytes | None]:
    """zbar in binary mode hands back the segment bytes; only UTF-8 (and so ASCII) is unambiguous.

    Returns (None, data) when the caller must find the charset elsewhere (a zxing cross-check).
    """
    text = utf8_or_none(data)
    if text is not None:
        return text, None
    return None, data
