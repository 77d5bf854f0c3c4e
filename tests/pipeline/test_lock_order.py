"""Dispatch rounds and stores write the same camera rows at once without deadlocking: each takes the
rows in id order (a deadlock costs a retry and seconds of latency under load)."""

import datetime as dt
import random
import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from cameras.models import Camera
from cameras.schedule import cameras_claim_due
from detections.decoders import DecodeResult
from pipeline.store import StoreEntry, snapshots_store

pytestmark = pytest.mark.django_db(transaction=True)
CAMERAS = 300
ROUNDS = 150


def test_dispatch_rounds_and_stores_over_the_same_cameras_never_deadlock(camera_factory):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers")
    t0 = time.time()
    ids = [camera_factory(interval_s=0.5, timeout_s=0.2, next_run_at=t0, status="online").pk for _ in range(CAMERAS)]
    # Rows as a long-running site has them: their physical order (the order a dispatch round's scan
    # meets them in) no longer follows their ids.
    for camera_id in random.Random(3).sample(ids, len(ids)):
        Camera.objects.filter(pk=camera_id).update(name=f"moved-{camera_id}")
    errors: list[BaseException] = []
    stop = threading.Event()

    def dispatching() -> None:
        try:
            now = t0
            while not stop.is_set():
                now += 0.5
                cameras_claim_due(now=now, horizon=now + 0.5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def storing(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for k in range(ROUNDS):
                batch = rng.sample(ids, 16)  # a batch's cameras in no particular order
                at = dt.datetime.fromtimestamp(t0 + seed * 1000 + k, tz=dt.UTC)
                result = DecodeResult(codes=[], width=8, height=8, ms=1.0)
                snapshots_store([StoreEntry(c, at, at, 1.0, 1, result) for c in batch])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatching)] + [threading.Thread(target=storing, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join(120)
    stop.set()
    threads[0].join(30)
    deadlocks = [e for e in errors if isinstance(e, OperationalError) and "deadlock" in str(e)]
    assert not deadlocks, deadlocks[0]
    assert not errors, errors[0]
    assert sum(Camera.objects.values_list("captures_ok", flat=True)) == 2 * ROUNDS * 16
