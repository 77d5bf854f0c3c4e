"""zxing-cpp: the default engine. Exact payloads (text_mode=Plain) and failed attempts as evidence."""

import numpy as np
import zxingcpp

from detections.decoders.payload import zxing_payload
from detections.decoders.types import Code, Quad

FORMATS = {
    "qr": zxingcpp.BarcodeFormat.QRCode,
    "microqr": zxingcpp.BarcodeFormat.MicroQRCode,
    "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
    "aztec": zxingcpp.BarcodeFormat.Aztec,
    "code128": zxingcpp.BarcodeFormat.Code128,
    "code39": zxingcpp.BarcodeFormat.Code39,
    "ean13": zxingcpp.BarcodeFormat.EAN13,
    "ean8": zxingcpp.BarcodeFormat.EAN8,
    "upca": zxingcpp.BarcodeFormat.UPCA,
    "upce": zxingcpp.BarcodeFormat.UPCE,
    "itf": zxingcpp.BarcodeFormat.ITF,
    "pdf417": zxingcpp.BarcodeFormat.PDF417,
}
NAMES = {v: k for k, v in FORMATS.items()}
BINARIZERS = {
    "local": zxingcpp.Binarizer.LocalAverage,
    "global": zxingcpp.Binarizer.GlobalHistogram,
    "fixed": zxingcpp.Binarizer.FixedThreshold,
}
# ]Q2, ]d2 ... : the AIM symbology identifier's modifier says an ECI was present in the symbol.
_ECI_IDS = {"]Q2", "]Q4", "]Q6", "]d4", "]d5", "]d6", "]z3", "]z4", "]z5", "]L1"}
_BINARY = {zxingcpp.ContentType.Binary, zxingcpp.ContentType.UnknownECI}


def format_set(formats: list[str]) -> "zxingcpp.BarcodeFormats":
    result = FORMATS[formats[0]]
    for name in formats[1:]:
        result = result | FORMATS[name]
    return result


def _quad(position: "zxingcpp.Position") -> Quad:
    p = position
    return [
        [p.top_left.x, p.top_left.y],
        [p.top_right.x, p.top_right.y],
        [p.bottom_right.x, p.bottom_right.y],
        [p.bottom_left.x, p.bottom_left.y],
    ]


def to_code(r: "zxingcpp.Barcode") -> Code:
    data = bytes(r.bytes)
    text, raw = zxing_payload(r.text, data, binary=r.content_type in _BINARY, eci=r.symbology_identifier in _ECI_IDS)
    return Code(
        format=NAMES.get(r.format, str(r.format)), text=text, raw=raw, position=_quad(r.position), engine="zxing"
    )


def read(image: np.ndarray, formats: list[str], *, binarizer: str = "local") -> tuple[list[Code], list[Quad]]:
    """Valid codes, plus where zxing found a symbol it could not decode (checksum or format errors).

    The failed attempts come from the same call (return_errors=True), so the evidence that decides
    whether a frame deserves a second pass costs nothing on frames without codes.
    """
    found = zxingcpp.read_barcodes(
        image,
        formats=format_set(formats),
        text_mode=zxingcpp.TextMode.Plain,
        binarizer=BINARIZERS[binarizer],
        return_errors=True,
    )
    codes = [to_code(r) for r in found if r.valid]
    failed = [_quad(r.position) for r in found if not r.valid]
    return codes, failed
