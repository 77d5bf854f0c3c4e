"""The values the decoders hand back; kept apart so engine modules can import them without cycles."""

import base64
from dataclasses import dataclass, field

Quad = list[list[int]]  # four [x, y] corners: top-left, top-right, bottom-right, bottom-left of the symbol


@dataclass(frozen=True)
class Code:
    format: str  # project name: qr, microqr, datamatrix, aztec, code128, code39, ean13, ean8, upca, upce, itf, pdf417
    text: str  # the payload as text in its real charset; "" when that cannot be known (see raw)
    raw: bytes | None  # payload bytes when they are not (known) text
    position: Quad  # in full-frame pixels
    engine: str  # zxing or zbar: which library read it

    def as_dict(self) -> dict:
        """The code as JSON-ready values: the one shape the commands and the API print."""
        out = {"format": self.format, "text": self.text, "position": self.position, "engine": self.engine}
        if self.raw is not None:
            out["raw"] = raw_b64(self.raw)
        return out


def raw_b64(raw: bytes | memoryview | None) -> str | None:
    """Payload bytes as base64 text for JSON; None when there are none."""
    return None if raw is None else base64.b64encode(bytes(raw)).decode("ascii")


@dataclass
class DecodeResult:
    codes: list[Code] = field(default_factory=list)
    width: int = 0
    height: int = 0
    ms: float = 0.0
    passes: int = 1  # engine calls made; above 1 only when a second pass ran
    # A code-like pattern was found and nothing decoded: a reader's "no-read" (a damaged or blurred label).
    no_read: bool = False
    gated: bool = False  # not decoded: the picture had not changed, the codes are the last decode's


class DecodeError(Exception):
    """kind is a short machine word (not_an_image, bad_format, bad_engine, bad_roi, engine_unavailable)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
