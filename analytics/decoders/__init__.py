"""Find and decode codes in an encoded image. Two engines: zxing-cpp (default) and zbar."""

import time
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class Code:
    format: str
    text: str
    raw: bytes | None  # payload bytes when they are not valid text
    position: list[list[int]]  # four [x, y] corners
    engine: str


@dataclass
class DecodeResult:
    codes: list[Code] = field(default_factory=list)
    width: int = 0
    height: int = 0
    ms: float = 0.0


class DecodeError(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


ENGINES = ("zxing", "zbar")


def to_gray(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DecodeError("not_an_image", "image could not be decoded")
    return image


def decode_gray(image: np.ndarray, *, formats: list[str], engine: str = "zxing") -> list[Code]:
    if engine == "zbar":
        from analytics.decoders import zbar

        return zbar.read(image, formats)
    from analytics.decoders import zxing

    return zxing.read(image, formats)


def decode_bytes(data: bytes, *, formats: list[str], engine: str = "zxing") -> DecodeResult:
    """Decode an encoded image (JPEG, PNG ...) straight to grayscale, then find codes."""
    start = time.perf_counter()
    image = to_gray(data)
    codes = decode_gray(image, formats=formats, engine=engine)
    return DecodeResult(
        codes=codes, width=image.shape[1], height=image.shape[0], ms=(time.perf_counter() - start) * 1000
    )
