"""Camera schedules: claiming the slots that fall due, and giving back the ones not served.

Due times are fixed-rate, in Unix seconds, so one portable UPDATE does the arithmetic; a lease
(``lease_until``) marks a camera whose capture is in flight so it is never claimed twice.
"""

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from cameras.models import Camera, StreamLease
from cameras.slots import BACKPRESSURE, IN_FLIGHT, LATE, OUTAGE, SKIPPED, slots_before, slots_between, slots_count

# The latest slot at or before now (or the first future one), then the first slot past the horizon.
_SLOT = (
    "(next_run_at + interval_s * "
    "(CASE WHEN next_run_at < %(now)s THEN FLOOR((%(now)s - next_run_at) / interval_s) ELSE 0 END))"
)
_AFTER = f"({_SLOT} + interval_s * CEILING((%(horizon)s - {_SLOT}) / interval_s))"
# A capture in flight can still be running at the camera's next slot only when its timeout is longer
# than the interval: only then does a held lease mean "skip this slot". Otherwise the previous grab is
# over (done or timed out) by the time the next one starts, whenever its result is stored.
_OVERLAP = "interval_s < timeout_s"
# Stream-mode cameras are served by the streams process that holds their session, on the same grid.
_SNAPSHOT = "mode <> 'stream'"
# Slots between next_run_at and the latest one at or before now: no round claimed them in time.
_MISSED = "(CASE WHEN next_run_at < %(now)s THEN FLOOR((%(now)s - next_run_at) / interval_s) ELSE 0 END)"


def cameras_claim_due(*, now: float, horizon: float, shed: float = 0.0) -> tuple[list[tuple], int]:
    """Claim every camera due before the horizon in one statement; count the due ones still in flight.

    Returns ([(id, first_slot, next_slot, interval_s, timeout_s, status), ...], skipped).
    A concurrent round blocks on the same rows and re-checks the WHERE clause after the first
    commits, so no camera is claimed twice. next_run_at moves by whole intervals from the previous
    due time; slots that already passed unclaimed (no round ran: beat, broker, database or io was
    down) are counted as skipped ``outage``. A camera whose capture is still in flight is
    skipped (``in_flight``) only if that capture could overlap the next one (timeout longer than
    interval). When decoding is backed up, a share ``shed``
    (0..1) of the due cameras skips this round (``backpressure``); which ones is a hash of the camera
    and the round, so over time every camera sheds alike. A camera saved without a schedule (by any
    path) is due now.
    """
    table = Camera._meta.db_table
    params = {
        "now": now,
        "horizon": horizon,
        "slack": settings.CAMTRACK_LEASE_SLACK_S,
        "round": int(now) % 1000,
        "shed": int(shed * 1000),
    }
    true = "TRUE" if connection.vendor == "postgresql" else "1"
    busy = f"(lease_until > %(now)s AND {_OVERLAP})"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET next_run_at = %(now)s WHERE next_run_at IS NULL", params)
        if connection.vendor == "postgresql":
            # The due rows locked in id order, the order every writer of camera rows takes them in
            # (see cameras_lock_rows): the UPDATEs below scan in physical order, and a store locking
            # some of the same rows in another order would deadlock with them.
            cursor.execute(
                f"SELECT id FROM {table} WHERE enabled AND {_SNAPSHOT} AND next_run_at < %(horizon)s "
                f"ORDER BY id FOR NO KEY UPDATE",
                params,
            )
        # SET expressions see the old row, RETURNING the new one: last_due_at carries the round's first
        # slot, slots_missed how many passed unclaimed before it.
        cursor.execute(
            f"UPDATE {table} SET last_due_at = {_SLOT}, next_run_at = {_AFTER}, "
            f"captures_skipped = captures_skipped + 1, slots_missed = {_MISSED} "
            f"WHERE enabled = {true} AND {_SNAPSHOT} AND next_run_at < %(horizon)s AND ({busy} "
            f"OR MOD(id * 7919 + %(round)s * 104729, 1000) < %(shed)s) "
            f"RETURNING id, last_due_at, next_run_at, interval_s, slots_missed, CASE WHEN {busy} THEN 1 ELSE 0 END",
            params,
        )
        skips = cursor.fetchall()
        cursor.execute(
            f"UPDATE {table} SET last_due_at = {_SLOT}, next_run_at = {_AFTER}, "
            f"lease_until = {_AFTER} + timeout_s + %(slack)s, slots_missed = {_MISSED} "
            f"WHERE enabled = {true} AND {_SNAPSHOT} AND next_run_at < %(horizon)s "
            f"AND (lease_until IS NULL OR lease_until <= %(now)s OR NOT {_OVERLAP}) "
            f"RETURNING id, last_due_at, next_run_at, interval_s, timeout_s, status, slots_missed",
            params,
        )
        rows = cursor.fetchall()
        _count_skips(skips, rows)
    return [row[:6] for row in rows], len(skips)


def _count_skips(skips: list[tuple], claimed: list[tuple]) -> None:
    by_reason: list[tuple[int, float, str]] = []
    for camera_id, first_slot, next_slot, interval_s, missed, busy in skips:
        reason = IN_FLIGHT if busy else BACKPRESSURE
        by_reason += [
            (camera_id, s, reason) for s in slots_between(start=first_slot, end=next_slot, interval_s=interval_s)
        ]
        by_reason += [
            (camera_id, s, OUTAGE) for s in slots_before(first=first_slot, count=int(missed), interval_s=interval_s)
        ]
    for camera_id, first_slot, _next, interval_s, _timeout, _status, missed in claimed:
        by_reason += [
            (camera_id, s, OUTAGE) for s in slots_before(first=first_slot, count=int(missed), interval_s=interval_s)
        ]
    slots_count(outcome=SKIPPED, slots=by_reason)


def cameras_lock_rows(*, camera_ids: list[int]) -> None:
    """Lock these camera rows for this transaction, in id order (PostgreSQL; SQLite serializes writers).

    A writer that updates several camera rows in one statement takes them in whatever order its plan
    gives; two such writers (a dispatch round and a store) then deadlock on each other. Taking the
    rows first, sorted, as cameras_claim_due does, makes them queue instead.
    """
    ids = sorted(set(camera_ids))
    if ids and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {Camera._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [ids]
            )


def cameras_release(*, camera_ids: list[int]) -> None:
    """Give leases back (the grab is over, or the broker refused the captures)."""
    with transaction.atomic():
        cameras_lock_rows(camera_ids=camera_ids)
        Camera.objects.filter(pk__in=camera_ids).update(lease_until=None)


def captures_dropped(*, slots: list[tuple[int, float]], reason: str = LATE) -> None:
    """Captures that will not run (expired in the queue, or refused by the broker): free their cameras
    and count their slots as skipped, those still open in the ledger (a capture redelivered after its
    worker died may hold slots already counted)."""
    from cameras.ledger import slots_reopen, slots_take

    camera_ids = sorted({camera_id for camera_id, _ in slots})
    owned = slots_take(slots)
    try:
        with transaction.atomic():
            cameras_lock_rows(camera_ids=camera_ids)
            Camera.objects.filter(pk__in=camera_ids).update(
                lease_until=None, captures_skipped=F("captures_skipped") + 1
            )
            slots_count(outcome=SKIPPED, slots=owned, reason=reason)
    except Exception:
        slots_reopen(owned)  # the database refused: the ledger's next round counts them
        raise


def stream_orphans_claim(*, now: float, grace_s: float) -> list[tuple[int, float, float, float]]:
    """Claim the due slots of stream cameras that no streams process has held for ``grace_s``.

    Returns [(id, first_slot, next_slot, interval_s), ...], the slots to record as failed: a stream
    camera nobody reads (no streams process running, or all of them down) is not silent. Slots
    already passed are skipped as dispatch skips them; a camera held again leaves this at once.
    """
    table, leases = Camera._meta.db_table, StreamLease._meta.db_table
    true = "TRUE" if connection.vendor == "postgresql" else "1"
    params = {
        "now": now,
        "horizon": now + 1e-6,
        "since": now - grace_s,
        "created": dt.datetime.fromtimestamp(now - grace_s, tz=dt.UTC),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_due_at = {_SLOT}, next_run_at = {_AFTER} "
            f"WHERE enabled = {true} AND mode = 'stream' AND next_run_at < %(horizon)s "
            f"AND created_at < %(created)s AND NOT EXISTS (SELECT 1 FROM {leases} l "
            f"WHERE l.camera_id = {table}.id AND l.lease_until >= %(since)s) "
            f"RETURNING id, last_due_at, next_run_at, interval_s",
            params,
        )
        return cursor.fetchall()
