"""The symbologies and decoding engines a camera may be configured with: the one list of each.

Pure Python (no Django): the decoders in ``detections.decoders`` map these names to their libraries.
"""

FORMATS = (
    "qr",
    "microqr",
    "datamatrix",
    "aztec",
    "code128",
    "code39",
    "ean13",
    "ean8",
    "upca",
    "upce",
    "itf",
    "pdf417",
)
ENGINES = ("zxing", "zbar")
DEFAULT_FORMATS = ("qr",)
