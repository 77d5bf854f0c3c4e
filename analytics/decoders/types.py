"""The values the decoders hand back; kept apart so engine modules can import them without cycles."""

from dataclasses import dataclass, field

Quad = list[list[int]]  # four [x, y] corners: top-left, top-right, bottom-right, bottom-left of the symbol


@dataclass(frozen=True)
class Code:
    format: str  # project name: qr, microqr, datamatrix, aztec, code128, code39, ean13, ean8, upca, upce, itf, pdf417
    text: str  # the payload as text in its real charset; "" when that cannot be known (see raw)
    raw: bytes | None  # payload bytes when they are not (known) text
    position: Quad  # in full-frame pixels
    engine: str  # zxing or zbar: which library read it


@dataclass
class DecodeResult:
    codes: list[Code] = field(default_factory=list)
    width: int = 0
    height: int = 0
    ms: float = 0.0
    passes: int = 1  # engine calls made; above 1 only when a second pass ran


class DecodeError(Exception):
    """kind is a short machine word (not_an_image, bad_format, bad_engine, bad_roi, engine_unavailable)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
