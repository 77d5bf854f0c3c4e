"""The ledger of claimed slots: every slot a dispatch round hands to a capture task stays open here until
its outcome is counted, so a slot whose task died with its worker is found and counted, once.

A SIGKILLed io or cpu worker takes the tasks it had reserved with it; the broker hands them back only
after its visibility timeout (15 minutes), and by then they have expired. Without a ledger those slots
would stay uncounted all that time. With it, a slot still open past its deadline (by when any capture
and decode of it must have ended: the capture's lag and timeout, the frame's TTL and a decode's time
limit) is recorded as failed ``lost``, with a snapshot row, so that a late redelivery of its
capture or decode finds the slot taken and counts nothing twice.

The ledger is a sorted set in the frame store, scored by deadline. ``since`` says from which due time
it knows every claimed slot: a frame store that lost its keys (restarted empty) starts a new ledger,
and slots claimed before that are counted as they were before the ledger existed.
"""

import datetime as dt
import logging
import time
from collections.abc import Iterable

import redis
from django.conf import settings
from django.db import IntegrityError, transaction

from cameras.latest import frame_store
from cameras.models import Snapshot
from cameras.slots import FAILED, Slot, slots_count

logger = logging.getLogger(__name__)

OPEN_KEY = "camtrack:slots:open"
SINCE_KEY = "camtrack:slots:since"
LOST = "lost"
RECONCILE_BATCH = 2000

# Removes the given members and returns the ones that were there: two callers never both own a slot.
_TAKE = """
local taken = {}
for i, member in ipairs(ARGV) do
  if redis.call('ZREM', KEYS[1], member) == 1 then taken[#taken + 1] = member end
end
return taken
"""
# Takes up to ARGV[2] members whose deadline (score) is before ARGV[1].
_TAKE_EXPIRED = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


def _member(camera_id: int, slot: float) -> str:
    return f"{camera_id}:{slot:.6f}"


def _slot(member: bytes | str) -> Slot:
    camera_id, slot = (member.decode() if isinstance(member, bytes) else member).split(":")
    return int(camera_id), float(slot)


def deadline_s(timeout_s: float) -> float:
    """How long after its due time a claimed slot may still end by itself."""
    return (
        settings.CAMTRACK_MAX_LAG_S
        + timeout_s
        + settings.CAMTRACK_STRAGGLER_S
        + settings.CAMTRACK_FRAME_TTL_S
        + settings.CAMTRACK_SLOT_GRACE_S
    )


def slots_open(slots: Iterable[tuple[int, float, float]]) -> None:
    """Open claimed slots: (camera_id, due, timeout_s). A frame store that is down opens nothing: those
    slots are counted as before, without the ledger's protection against a worker's death."""
    slots = list(slots)
    mapping = {_member(c, s): s + deadline_s(t) for c, s, t in slots}
    if not mapping:
        return
    try:
        pipe = frame_store().pipeline(transaction=False)
        pipe.set(SINCE_KEY, repr(min(s for _, s, _ in slots)), nx=True)
        pipe.zadd(OPEN_KEY, mapping)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("ledger: could not open %d slots: %s", len(mapping), exc)


def slots_close(slots: Iterable[Slot]) -> None:
    """Close slots whose outcome was just counted (best effort: a slot left open is checked against its
    snapshot row before it is called lost)."""
    members = [_member(c, s) for c, s in slots]
    if not members:
        return
    try:
        frame_store().zrem(OPEN_KEY, *members)
    except redis.RedisError as exc:
        logger.warning("ledger: could not close %d slots: %s", len(members), exc)


def slots_reopen(slots: list[Slot]) -> None:
    """Put taken slots back, due at once: the next reconcile records them (they could not be counted)."""
    if slots:
        try:
            frame_store().zadd(OPEN_KEY, {_member(c, s): 0 for c, s in slots})
        except redis.RedisError as exc:
            logger.error("ledger: %d slots could be counted nowhere: %s", len(slots), exc)


def slots_take(slots: list[Slot]) -> list[Slot]:
    """The slots among these that are still to be counted, now owned by the caller.

    A slot the ledger never knew (claimed before it started) is the caller's too; when the frame store
    cannot answer, every slot is (a rare double count is better than a slot never counted).
    """
    if not slots:
        return []
    try:
        store = frame_store()
        since = store.get(SINCE_KEY)
        taken = store.register_script(_TAKE)(keys=[OPEN_KEY], args=[_member(c, s) for c, s in slots])
    except redis.RedisError as exc:
        logger.warning("ledger: could not take %d slots, counting them all: %s", len(slots), exc)
        return list(slots)
    owned = {_slot(m) for m in taken}
    known_from = float(since) if since is not None else float("inf")
    return [(c, s) for c, s in slots if (c, round(s, 6)) in owned or s < known_from]


def slots_reconcile(*, now: float | None = None) -> int:
    """Record the slots open past their deadline as failed ``lost``; returns how many."""
    now = time.time() if now is None else now
    lost = 0
    while True:
        try:
            due = frame_store().register_script(_TAKE_EXPIRED)(keys=[OPEN_KEY], args=[repr(now), RECONCILE_BATCH])
        except redis.RedisError as exc:
            logger.warning("ledger: could not read expired slots: %s", exc)
            return lost
        if not due:
            return lost
        try:
            lost += _record_lost([_slot(m) for m in due])
        except Exception:
            slots_reopen([_slot(m) for m in due])  # not recorded: tried again on the next round
            raise
        if len(due) < RECONCILE_BATCH:
            return lost


def _record_lost(slots: list[Slot]) -> int:
    """A failed snapshot row for each slot that has none yet (a slot stored or failed whose ledger entry
    could not be closed has one already, and counts nothing here)."""
    now = dt.datetime.now(dt.UTC)
    recorded: list[Slot] = []
    with transaction.atomic():
        for camera_id, slot in sorted(slots):
            try:
                with transaction.atomic():
                    Snapshot.objects.create(
                        camera_id=camera_id,
                        scheduled_at=dt.datetime.fromtimestamp(slot, tz=dt.UTC),
                        finished_at=now,
                        status=Snapshot.Status.FAILED,
                        error=LOST,
                        error_detail="no outcome by its deadline: its worker died, or its outcome could not be written",
                    )
            except IntegrityError:
                continue  # already recorded, or the camera was deleted
            recorded.append((camera_id, slot))
        slots_count(outcome=FAILED, slots=recorded, reason=LOST)
    if recorded:
        logger.warning("ledger: %d slots ended without an outcome, recorded as failed (%s)", len(recorded), LOST)
    return len(recorded)
