"""What one stage hands the next, as small typed records that travel as JSON.

Every record carries a version ``v``. A reader accepts its own version and every older one,
including the positional lists that version 1 sent, so tasks already queued survive an upgrade;
a record from a newer version is refused loudly rather than misread.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Self

VERSION = 2


class MessageError(ValueError):
    """A record that cannot be read: from a newer version, or malformed."""


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    KIND: ClassVar[str] = "message"

    def to_json(self) -> dict[str, Any]:
        # Flat records of plain values: no need for dataclasses.asdict's recursive copy.
        out: dict[str, Any] = {"v": VERSION}
        for f in dataclasses.fields(self):
            out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | list | tuple) -> Self:
        names = [f.name for f in dataclasses.fields(cls)]
        try:
            if isinstance(data, list | tuple):  # version 1: positional, newer fields absent
                return cls(*data[: len(names)])
            version = data.get("v", 1)
            if version > VERSION:
                raise MessageError(f"{cls.KIND} version {version} is newer than this reader ({VERSION})")
            return cls(**{name: data[name] for name in names if name in data})
        except (TypeError, AttributeError) as exc:
            raise MessageError(f"malformed {cls.KIND}: {exc}") from None


@dataclasses.dataclass(frozen=True, slots=True)
class CaptureSlot(Message):
    """dispatch → capture: grab camera ``camera_id`` for its due time ``slot`` (Unix seconds)."""

    KIND: ClassVar[str] = "capture slot"
    camera_id: int
    slot: float


@dataclasses.dataclass(frozen=True, slots=True)
class FrameReady(Message):
    """capture → decode: a frame is parked in the frame store under (camera_id, slot).

    It carries the camera's decode settings as they were at capture time, so the cpu stage reads
    no camera row.
    """

    KIND: ClassVar[str] = "frame"
    camera_id: int
    slot: float
    captured_ts: float
    capture_ms: float
    nbytes: int
    formats: str
    engine: str = ""
    roi: str = ""
    downscale: int = 1
    gate: bool = False  # the camera's change gate: an unchanged picture is not decoded again


def capture_slots(items: list) -> list[CaptureSlot]:
    return [CaptureSlot.from_json(item) for item in items]


def frames_ready(items: list) -> list[FrameReady]:
    return [FrameReady.from_json(item) for item in items]
