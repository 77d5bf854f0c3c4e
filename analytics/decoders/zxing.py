import numpy as np
import zxingcpp

from analytics.decoders.payload import split_payload

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


def format_set(formats: list[str]) -> "zxingcpp.BarcodeFormats":
    result = None
    for name in formats:
        fmt = FORMATS[name]
        result = fmt if result is None else result | fmt
    return result


def read(image: np.ndarray, formats: list[str]):
    from analytics.decoders import Code

    found = zxingcpp.read_barcodes(image, formats=format_set(formats), text_mode=zxingcpp.TextMode.Plain)
    codes = []
    for r in found:
        p = r.position
        corners = [[p.top_left.x, p.top_left.y], [p.top_right.x, p.top_right.y],
                   [p.bottom_right.x, p.bottom_right.y], [p.bottom_left.x, p.bottom_left.y]]
        text, raw = split_payload(r.text, bytes(r.bytes))
        codes.append(Code(format=NAMES.get(r.format, str(r.format)), text=text, raw=raw, position=corners, engine="zxing"))
    return codes
