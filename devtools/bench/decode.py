"""Accuracy and speed of the decoders on labelled images, next to the bare library calls.

A case is encoded image bytes plus the set of payloads (bytes) it holds; an empty set means the image
must yield nothing. Every reader is timed from the encoded bytes, so JPEG/PNG decoding is included.
"""

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

from detections.decoders import decode_bytes

Reader = Callable[[bytes], list[bytes]]
_ROT = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass
class Case:
    name: str
    data: bytes
    truth: frozenset[bytes]
    group: str  # what the timing is reported under: "dataset", "720p/0 codes", ...


@dataclass
class Score:
    right: int = 0  # every expected payload read
    wrong: int = 0  # not right, and some text returned that is not an expected payload
    extra: int = 0  # right, plus another text (a second real code in a photo, or a wrong one: look)
    missed: int = 0  # expected payloads not all read, nothing wrong returned
    false_positive: int = 0  # no-code images with a detection
    ms: list[float] = field(default_factory=list)

    def add(self, truth: frozenset[bytes], got: list[bytes], ms: float) -> None:
        self.ms.append(ms)
        extra = [g for g in got if g not in truth]
        if not truth and got:
            self.false_positive += 1
        if truth and truth <= set(got):
            self.right += 1
            self.extra += bool(extra)
        elif extra:
            self.wrong += 1
        elif truth:
            self.missed += 1

    def summary(self) -> dict:
        ms = sorted(self.ms) or [0.0]
        return {
            "right": self.right,
            "wrong": self.wrong,
            "extra": self.extra,
            "missed": self.missed,
            "false_positive": self.false_positive,
            "n": len(self.ms),
            "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
        }


def bare_zxing(data: bytes) -> list[bytes]:
    """The reference cost: grayscale imdecode and one zxing-cpp QR-only call, library defaults."""
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain)
    return [r.text.encode("utf-8") for r in found]


def bare_zbar(data: bytes) -> list[bytes]:
    """pyzbar as most code calls it: zbar's own charset guess, QR only."""
    from pyzbar import pyzbar

    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [r.data for r in pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])]


def pipeline(engine: str, formats: list[str] | None = None) -> Reader:
    def read(data: bytes) -> list[bytes]:
        return [
            c.text.encode("utf-8") for c in decode_bytes(data, formats=formats or ["qr"], engine=engine).codes if c.text
        ]

    return read


def rotated(data: bytes, degrees: int) -> bytes:
    if not degrees % 360:
        return data
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return cv2.imencode(".png", cv2.rotate(gray, _ROT[degrees]))[1].tobytes()  # lossless: same pixels, turned


def dataset_cases(root: Path) -> list[Case]:
    """`*/N.png` with `N.txt` holding the exact payload; images in `falsepositives*` folders hold none."""
    cases = []
    for path in sorted(root.glob("*/*")):
        if path.suffix.lower() not in {".png", ".jpg", ".jpeg", ".gif", ".bmp"}:
            continue
        truth_file = path.with_suffix(".txt")
        if path.parent.name.startswith("falsepositives"):
            truth: frozenset[bytes] = frozenset()
        elif truth_file.exists():
            truth = frozenset([truth_file.read_bytes()])
        else:
            continue
        cases.append(Case(f"{path.parent.name}/{path.name}", path.read_bytes(), truth, "dataset"))
    return cases


def generated_cases(count: int = 8) -> list[Case]:
    """720p and 1080p camera-like JPEGs with 0, 1 and 4 codes (tests.framegen draws them)."""
    from devtools import framegen

    cases = []
    for w, h in ((1280, 720), (1920, 1080)):
        for seed in range(count):
            group = f"{h}p"
            cases.append(
                Case(f"{group}-empty-{seed}", framegen.empty_frame((w, h), seed=seed), frozenset(), f"{group}/0 codes")
            )
            text = f"CAM-{h}-{seed:03d}-https://example.com/p/{seed * 7919}"
            one = framegen.qr_frame(
                text,
                (w, h),
                seed=seed,
                module_px=3 + seed % 4,
                angle=seed * 23 % 360,
                tilt=0.05 * (seed % 4),
                center=(0.3 + 0.05 * seed % 0.4, 0.4 + 0.03 * seed),
            )
            cases.append(Case(f"{group}-one-{seed}", one, frozenset([text.encode()]), f"{group}/1 code"))
            texts = [f"BOX-{seed}-{i}-{'x' * (seed % 3 * 10)}" for i in range(4)]
            cases.append(
                Case(
                    f"{group}-four-{seed}",
                    framegen.multi_frame(texts, (w, h), seed=seed),
                    frozenset(t.encode() for t in texts),
                    f"{group}/4 codes",
                )
            )
    return cases


def run(cases: Iterable[Case], readers: dict[str, Reader], rotations: list[int]) -> dict:
    """{reader: {rotation: {group: summary}}}. Readers alternate per image so drift hits all alike."""
    scores: dict[str, dict[int, dict[str, Score]]] = {r: {rot: {} for rot in rotations} for r in readers}
    for case in cases:
        for rot in rotations:
            data = rotated(case.data, rot)
            for name, reader in readers.items():
                start = time.perf_counter()
                try:
                    got = reader(data)
                except Exception:  # noqa: BLE001 - a crash on one image is a miss, not the end of the run
                    got = []
                ms = (time.perf_counter() - start) * 1000
                scores[name][rot].setdefault(case.group, Score()).add(case.truth, got, ms)
    return {
        r: {rot: {g: s.summary() for g, s in groups.items()} for rot, groups in by_rot.items()}
        for r, by_rot in scores.items()
    }


def format_costs(cases: list[Case], formats: list[str], engine: str = "zxing", repeat: int = 3) -> dict[str, dict]:
    """Median ms per frame for QR alone and for QR plus each other format, on the same frames."""
    out = {}
    for extra in [None, *[f for f in formats if f != "qr"], "all"]:
        fmts = ["qr"] if extra is None else (formats if extra == "all" else ["qr", extra])
        ms = []
        for case in cases:
            for _ in range(repeat):
                start = time.perf_counter()
                decode_bytes(case.data, formats=fmts, engine=engine)
                ms.append((time.perf_counter() - start) * 1000)
        out["qr" if extra is None else f"qr+{extra}"] = {"p50_ms": round(statistics.median(ms), 2)}
    return out
