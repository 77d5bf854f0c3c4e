"""Housekeeping: drop raw history past its retention in bounded batches, so the pipeline never stalls.

Each batch is one short DELETE by primary key (served by the time indexes), committed on its own:
locks are held for milliseconds and the store's writes interleave freely. A run stops after a time
budget and the next run carries on.
"""

import datetime as dt
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db.models import Model, QuerySet

from cameras.models import SlotHour, Snapshot
from detections.models import Detection
from pipeline import framestore
from tracking.models import CameraMinute, Sighting

BATCH = 5000


QUIET_MARK = "camtrack:prune:quiet"  # quiet snapshots due before this (Unix time) are gone
QUIET_WINDOW = dt.timedelta(minutes=1)
QUIET_LOOKBACK = dt.timedelta(days=1)


@dataclass
class PruneResult:
    detections: int = 0
    snapshots: int = 0
    quiet: int = 0
    sightings: int = 0
    minutes: int = 0
    slot_hours: int = 0
    done: bool = True  # False: the time budget ran out first, the next run continues


def _delete_batches(model: type[Model], old: QuerySet, deadline: float) -> tuple[int, bool]:
    deleted = 0
    pace = settings.CAMTRACK_PRUNE_ROWS_PER_S
    while time.monotonic() < deadline:
        started = time.monotonic()
        ids = list(old.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted, True
        model.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
        # Held to a pace: a site prunes ~350 rows/s on average (1000 cameras at 5 s), but a backlog
        # (retention shortened, a long stop) deleted flat out takes CPU the pipeline needs.
        if pace > 0:
            time.sleep(max(0.0, len(ids) / pace - (time.monotonic() - started)))
    return deleted, False


def _quiet_prune(now: dt.datetime, deadline: float) -> tuple[int, bool]:
    """Delete quiet snapshots past CAMTRACK_QUIET_SNAPSHOT_KEEP_S, a minute of due times at a time.

    The time index finds a minute's rows cheaply, the quiet ones among them are deleted, and the mark
    (in the frame store) moves on: each run reads only what fell due since the last one, never the
    days of kept snapshots before it.
    """
    keep_s = settings.CAMTRACK_QUIET_SNAPSHOT_KEEP_S
    if keep_s <= 0:
        return 0, True
    # Never while a redelivered task could still need the row to know its slot is taken.
    keep_s = max(keep_s, settings.CELERY_VISIBILITY_TIMEOUT + 300)
    end = now - dt.timedelta(seconds=keep_s)
    store = framestore.client()
    try:
        mark = store.get(QUIET_MARK)
    except redis.RedisError:  # the frame store is down: the next run carries on
        return 0, False
    # A lost mark (the frame store restarted empty) starts a day back, not at the week's edge: minutes
    # the rows of which are read again cost database time, and quiet rows older than that still go
    # with the snapshot retention.
    start = dt.datetime.fromtimestamp(float(mark), tz=dt.UTC) if mark is not None else end - QUIET_LOOKBACK
    deleted = 0
    while start < end:
        stop = min(start + QUIET_WINDOW, end)
        old = Snapshot.objects.filter(scheduled_at__gte=start, scheduled_at__lt=stop, quiet=True).order_by()
        n, finished = _delete_batches(Snapshot, old, deadline)
        deleted += n
        if not finished:
            return deleted, False
        try:
            store.set(QUIET_MARK, repr(stop.timestamp()))
        except redis.RedisError:
            return deleted, False
        start = stop
        if time.monotonic() >= deadline:
            return deleted, start >= end
    return deleted, True


def history_prune(*, now: dt.datetime | None = None, budget_s: float = 20.0) -> PruneResult:
    """Delete detections, snapshots, sightings and counts older than their retention settings."""
    now = now or dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + budget_s
    days = dt.timedelta(days=1)
    result = PruneResult()
    steps = [
        (
            "detections",
            Detection,
            Detection.objects.filter(created_at__lt=now - settings.CAMTRACK_DETECTION_RETENTION_DAYS * days),
        ),
        (
            "snapshots",
            Snapshot,
            Snapshot.objects.filter(scheduled_at__lt=now - settings.CAMTRACK_SNAPSHOT_RETENTION_DAYS * days),
        ),
        (
            "sightings",
            Sighting,
            Sighting.objects.filter(last_seen__lt=now - settings.CAMTRACK_SIGHTING_RETENTION_DAYS * days),
        ),
        (
            "minutes",
            CameraMinute,
            CameraMinute.objects.filter(start__lt=now - settings.CAMTRACK_SIGHTING_RETENTION_DAYS * days),
        ),
        (
            # Slot accounting is kept as long as the counts it explains.
            "slot_hours",
            SlotHour,
            SlotHour.objects.filter(hour__lt=now - settings.CAMTRACK_SIGHTING_RETENTION_DAYS * days),
        ),
    ]
    for name, model, old in steps:
        n, finished = _delete_batches(model, old.order_by(), deadline)
        setattr(result, name, n)
        if not finished:
            result.done = False
            return result
    result.quiet, result.done = _quiet_prune(now, deadline)
    return result
