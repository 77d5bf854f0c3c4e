"""Slot accounting: every due slot of an enabled camera ends counted once in SlotHour, as stored,
failed (with its error class) or skipped (with a reason).

Stored and failed slots are counted by the statement that inserted their snapshot (a slot's snapshot
is unique, so a redelivered task counts nothing twice). Skipped slots never reach a snapshot; they are
counted where the decision to skip them is taken, which happens once per slot.
"""

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable

from django.db import connection, transaction

from cameras.models import SlotHour
from camtrack.metrics import slots_counted

STORED, FAILED, SKIPPED = SlotHour.Outcome.STORED, SlotHour.Outcome.FAILED, SlotHour.Outcome.SKIPPED
# Why a slot was skipped.
BACKPRESSURE = "backpressure"  # decoding was backed up: the round shed this camera (dispatch)
IN_FLIGHT = "in_flight"  # the camera's previous capture could still be running (its lease, dispatch)
LATE = "late"  # the capture could not start within CAMTRACK_MAX_LAG_S and expired in the queue
OUTAGE = "outage"  # no round claimed it in time, or the broker refused its task (a service was down)
BACKOFF = "backoff"  # an offline camera is retried at a growing interval
REASONS = (BACKPRESSURE, IN_FLIGHT, LATE, OUTAGE, BACKOFF)

# A slot is a Unix time; its hour is the hour it fell due in.
Slot = tuple[int, float]  # (camera_id, due time)


def _hour(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts - ts % 3600, tz=dt.UTC)


def slots_before(*, first: float, count: int, interval_s: float) -> list[float]:
    """The ``count`` slots of a fixed-rate schedule just before ``first``."""
    return [first - k * interval_s for k in range(count, 0, -1)]


def slots_between(*, start: float, end: float, interval_s: float) -> list[float]:
    """Slots of a fixed-rate schedule from ``start`` (included) to ``end`` (excluded)."""
    if end <= start:
        return []
    return [start + k * interval_s for k in range(math.ceil((end - start) / interval_s - 1e-9))]


def slots_count(*, outcome: str, slots: Iterable[Slot | tuple[int, float, str]], reason: str = "") -> int:
    """Add slots to their camera's hours: (camera_id, due) with one ``reason``, or (camera_id, due, reason).

    One upsert per batch, in key order so concurrent writers lock rows in the same order.
    """
    slots = list(slots)
    counts: Counter[tuple[int, dt.datetime, str]] = Counter()
    for item in slots:
        counts[(item[0], _hour(item[1]), item[2] if len(item) > 2 else reason)] += 1  # type: ignore[misc]
    if not counts:
        return 0
    rows = sorted(counts.items())
    table = SlotHour._meta.db_table
    row = "(%s, %s, %s, %s, %s)" if connection.vendor == "sqlite" else "(%s::bigint, %s::timestamptz, %s, %s, %s::int)"
    values = ", ".join([row] * len(rows))
    params: list[object] = []
    for (camera_id, hour, why), n in rows:
        params += [camera_id, hour, outcome, why[:30], n]
    # A camera deleted meanwhile has nothing left to account for: its rows went with it.
    sql = (
        f"INSERT INTO {table} (camera_id, hour, outcome, reason, slots) "
        f"SELECT v.camera_id, v.hour, v.outcome, v.reason, v.slots FROM (VALUES {values}) "
        f"AS v(camera_id, hour, outcome, reason, slots) WHERE EXISTS "
        f"(SELECT 1 FROM cameras_camera c WHERE c.id = v.camera_id) "
        f"ON CONFLICT (camera_id, hour, outcome, reason) DO UPDATE SET slots = {table}.slots + excluded.slots"
    )
    if connection.vendor == "sqlite":
        # SQLite names the columns of a VALUES list column1..column5.
        sql = (
            f"INSERT INTO {table} (camera_id, hour, outcome, reason, slots) "
            f"SELECT column1, column2, column3, column4, column5 FROM (VALUES {values}) "
            f"WHERE EXISTS (SELECT 1 FROM cameras_camera c WHERE c.id = column1) "
            f"ON CONFLICT (camera_id, hour, outcome, reason) DO UPDATE SET slots = {table}.slots + excluded.slots"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    per_reason: Counter[str] = Counter()
    for (_, _, why), n in rows:
        per_reason[why] += n
    # Counted in the metrics only once the rows are: a rolled-back batch counts nothing; and then
    # closed in the ledger of claimed slots (cameras.ledger), which needs no word on them any more.
    counted = [(item[0], item[1]) for item in slots] if outcome != SKIPPED else []

    def committed() -> None:
        from cameras.ledger import slots_close

        slots_counted(outcome=str(outcome), counts=dict(per_reason))
        slots_close(counted)

    transaction.on_commit(committed)
    return sum(counts.values())


def slots_skip(*, slots: Iterable[Slot], reason: str) -> int:
    return slots_count(outcome=SKIPPED, slots=slots, reason=reason)
