"""zbar through pyzbar's ctypes bindings, in binary mode so that zbar never transcodes payloads.

pyzbar.decode() leaves zbar's charset guessing on: zbar then turns GB2312 and ECI-tagged text into
wrong UTF-8 without telling. With ZBAR_CFG_BINARY zbar returns the segment bytes as they are, and
payload.zbar_payload decides what is knowably text. Needs Debian's libzbar0.
"""

import ctypes

import cv2
import numpy as np
from pyzbar.pyzbar import _FOURCC, _image, _image_scanner
from pyzbar.wrapper import (
    ZBarConfig,
    ZBarSymbol,
    zbar_image_first_symbol,
    zbar_image_scanner_set_config,
    zbar_image_set_data,
    zbar_image_set_format,
    zbar_image_set_size,
    zbar_scan_image,
    zbar_symbol_get_data,
    zbar_symbol_get_data_length,
    zbar_symbol_get_loc_size,
    zbar_symbol_get_loc_x,
    zbar_symbol_get_loc_y,
    zbar_symbol_next,
)

from detections.decoders.types import Quad

_CFG_BINARY = 4  # zbar.h: ZBAR_CFG_BINARY, "don't convert binary data to text" (zbar >= 0.23)
FORMATS = {
    "qr": ZBarSymbol.QRCODE,
    "code128": ZBarSymbol.CODE128,
    "code39": ZBarSymbol.CODE39,
    "ean13": ZBarSymbol.EAN13,
    "ean8": ZBarSymbol.EAN8,
    "upca": ZBarSymbol.UPCA,
    "upce": ZBarSymbol.UPCE,
    "itf": ZBarSymbol.I25,
    "pdf417": ZBarSymbol.PDF417,
}
NAMES = {int(v): k for k, v in FORMATS.items()}


def _corners(points: list[tuple[int, int]]) -> Quad:
    """zbar gives a QR's 4 corners but a scan-line polygon for linear codes: reduce to a 4-corner box."""
    if len(points) == 4:  # zbar: top-left, bottom-left, bottom-right, top-right; zxing's order is clockwise
        return [list(points[i]) for i in (0, 3, 2, 1)]
    box = cv2.boxPoints(cv2.minAreaRect(np.array(points, np.float32)))
    return [[round(x), round(y)] for x, y in box]


def read(image: np.ndarray, formats: list[str]) -> list[tuple[str, bytes, Quad]]:
    """(format, payload bytes, corners) for each symbol found; formats zbar lacks are skipped here."""
    symbols = [FORMATS[f] for f in formats if f in FORMATS]
    if not symbols:
        return []
    image = np.ascontiguousarray(image)
    height, width = image.shape
    found = []
    with _image_scanner() as scanner:
        zbar_image_scanner_set_config(scanner, 0, ZBarConfig.CFG_ENABLE, 0)
        for symbol in symbols:
            zbar_image_scanner_set_config(scanner, symbol, ZBarConfig.CFG_ENABLE, 1)
            zbar_image_scanner_set_config(scanner, symbol, _CFG_BINARY, 1)
        with _image() as img:
            zbar_image_set_format(img, _FOURCC["L800"])
            zbar_image_set_size(img, width, height)
            buf = image.tobytes()
            zbar_image_set_data(img, ctypes.cast(buf, ctypes.c_void_p), len(buf), None)
            zbar_scan_image(scanner, img)
            sym = zbar_image_first_symbol(img)
            while sym:
                data = ctypes.string_at(zbar_symbol_get_data(sym), zbar_symbol_get_data_length(sym))
                points = [
                    (zbar_symbol_get_loc_x(sym, i), zbar_symbol_get_loc_y(sym, i))
                    for i in range(zbar_symbol_get_loc_size(sym))
                ]
                kind = NAMES.get(int(sym.contents.type), "unknown")
                found.append((kind, data, _corners(points)))
                sym = zbar_symbol_next(sym)
    return found
