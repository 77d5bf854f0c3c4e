"""Helpers of the slot-accounting tests: a camera's counted slots, and a stored empty slot."""

import datetime as dt

from django.db.models import Sum

from cameras.models import Camera, SlotHour
from detections.decoders import DecodeResult
from pipeline.store import snapshot_store


def by_reason(camera: Camera) -> dict[tuple[str, str], int]:
    rows = SlotHour.objects.filter(camera=camera).values_list("outcome", "reason").annotate(n=Sum("slots"))
    return {(outcome, reason): n for outcome, reason, n in rows}


def store_empty(camera_id: int, slot: float) -> bool:
    """Store a frame without codes for this slot; False when the slot was already taken."""
    at = dt.datetime.fromtimestamp(slot, tz=dt.UTC)
    result = DecodeResult(codes=[], width=10, height=10, ms=1.0)
    return snapshot_store(camera_id=camera_id, scheduled_at=at, captured_at=at, capture_ms=1.0, nbytes=1, result=result)
