import numpy as np
from pyzbar import pyzbar

FORMATS = {
    "qr": pyzbar.ZBarSymbol.QRCODE,
    "code128": pyzbar.ZBarSymbol.CODE128,
    "code39": pyzbar.ZBarSymbol.CODE39,
    "ean13": pyzbar.ZBarSymbol.EAN13,
    "ean8": pyzbar.ZBarSymbol.EAN8,
    "upca": pyzbar.ZBarSymbol.UPCA,
    "upce": pyzbar.ZBarSymbol.UPCE,
    "itf": pyzbar.ZBarSymbol.I25,
    "pdf417": pyzbar.ZBarSymbol.PDF417,
}
NAMES = {"QRCODE": "qr", "CODE128": "code128", "CODE39": "code39", "EAN13": "ean13", "EAN8": "ean8",
         "UPCA": "upca", "UPCE": "upce", "I25": "itf", "PDF417": "pdf417"}


def read(image: np.ndarray, formats: list[str]):
    from analytics.decoders import Code

    symbols = [FORMATS[f] for f in formats if f in FORMATS]
    if not symbols:
        return []
    codes = []
    for r in pyzbar.decode(image, symbols=symbols):
        try:
            text, raw = r.data.decode("utf-8"), None
        except UnicodeDecodeError:
            text, raw = r.data.decode("latin-1"), r.data
        corners = [[p.x, p.y] for p in r.polygon[:4]]
        codes.append(Code(format=NAMES.get(r.type, r.type.lower()), text=text, raw=raw, position=corners, engine="zbar"))
    return codes
