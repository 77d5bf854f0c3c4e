"""Stream leases in the database: fair shares, expiry, takeover, and no lease held twice."""

import threading
import time

import pytest
from django.db import connection

from cameras.leases import holder_heartbeat, holder_leave, leases_claim, leases_release, leases_renew
from cameras.models import Camera, StreamLease
from cameras.services import camera_upsert
from pipeline.stream import first_slot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cams():
    return [camera_upsert(name=f"s{i}", url=f"rtsp://127.0.0.1:9/s{i}", interval_s=2.0)[0].pk for i in range(6)]


def test_two_holders_split_the_cameras_and_a_dead_ones_are_taken_over(cams):
    now = time.time()
    assert holder_heartbeat(holder="a", now=now, until=now + 10) == 6
    a = leases_claim(holder="a", now=now, until=now + 10, limit=6)
    assert sorted(a) == sorted(cams)
    # b comes up: both see a share of 3; a hands back what it holds over its share, b claims it.
    assert holder_heartbeat(holder="b", now=now, until=now + 10) == 3
    assert leases_claim(holder="b", now=now, until=now + 10, limit=3) == []  # nothing free yet
    leases_release(holder="a", camera_ids=sorted(a)[3:])
    b = leases_claim(holder="b", now=now, until=now + 10, limit=3)
    assert sorted(b) == sorted(a)[3:]
    # b stops renewing: once its leases and its holder row ran out, a's share is all of them again.
    later = now + 11
    assert leases_renew(holder="a", camera_ids=sorted(a)[:3], until=later + 10) == set(sorted(a)[:3])
    assert holder_heartbeat(holder="a", now=later, until=later + 10) == 6
    assert sorted(leases_claim(holder="a", now=later, until=later + 10, limit=3)) == sorted(b)
    # b, late, cannot renew what a now holds.
    assert leases_renew(holder="b", camera_ids=b, until=later + 12) == set()
    assert set(StreamLease.objects.values_list("holder", flat=True)) == {"a"}


def test_a_lease_not_yet_expired_is_never_claimed(cams):
    now = time.time()
    leases_claim(holder="a", now=now, until=now + 10, limit=6)
    assert leases_claim(holder="b", now=now + 9.9, until=now + 20, limit=6) == []


def test_concurrent_claims_take_different_cameras(cams):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    now = time.time()
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(3)

    def claim(holder: str) -> None:
        barrier.wait()
        results[holder] = leases_claim(holder=holder, now=now, until=now + 10, limit=4)
        connection.close()

    threads = [threading.Thread(target=claim, args=(h,)) for h in "xyz"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    claimed = [cid for ids in results.values() for cid in ids]
    assert len(claimed) == len(set(claimed)) == 6


def test_disabled_or_snapshot_cameras_are_not_held(cams):
    now = time.time()
    leases_claim(holder="a", now=now, until=now + 10, limit=6)
    Camera.objects.filter(pk=cams[0]).update(enabled=False)
    Camera.objects.filter(pk=cams[1]).update(mode="snapshot")
    assert leases_renew(holder="a", camera_ids=cams, until=now + 12) == set(cams[2:])
    holder_leave(holder="a")
    assert leases_claim(holder="b", now=now, until=now + 10, limit=6) == cams[2:]


def test_slots_stay_on_the_cameras_grid():
    assert first_slot(anchor=100.0, interval_s=2.0, now=105.5) == 106.0
    assert first_slot(anchor=100.0, interval_s=2.0, now=106.0) == 106.0
    assert first_slot(anchor=110.0, interval_s=2.0, now=105.5) == 106.0
    assert first_slot(anchor=None, interval_s=2.0, now=105.5) == 105.5


def test_stream_cameras_nobody_holds_fail_their_slots_as_no_reader(cams):
    import datetime as dt

    from cameras.models import Snapshot
    from pipeline.dispatch import stream_orphans_record

    now = time.time()
    Camera.objects.update(created_at=dt.datetime.fromtimestamp(now - 60, tz=dt.UTC), next_run_at=now - 0.5)
    # Held (or lately held, within twice the lease) cameras are the streams process's to serve.
    StreamLease.objects.create(camera_id=cams[0], holder="a", lease_until=now - 5)
    Camera.objects.filter(pk=cams[1]).update(created_at=dt.datetime.fromtimestamp(now - 1, tz=dt.UTC))
    assert stream_orphans_record(now=now) == 4
    assert set(Snapshot.objects.values_list("camera_id", "error")) == {(pk, "no_reader") for pk in cams[2:]}
    assert stream_orphans_record(now=now + 0.1) == 0  # each slot once
    for step in (2, 4):
        stream_orphans_record(now=now + step)
    assert set(Camera.objects.filter(pk__in=cams[2:]).values_list("status", flat=True)) == {"offline"}
    assert Camera.objects.get(pk=cams[0]).status == "new"


def test_a_far_ahead_due_time_is_brought_back_to_the_first_slot_from_now():
    # An offline camera's backoff may have pushed next_run_at minutes ahead; a stream picks it up now.
    assert first_slot(anchor=400.0, interval_s=2.0, now=105.5) == 106.0
