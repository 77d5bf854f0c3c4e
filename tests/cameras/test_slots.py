"""Every due slot ends counted once in SlotHour: stored, failed by class, or skipped by reason."""

import datetime as dt
import random

import pytest
from django.db.models import Sum

from cameras.health import camera_mark_failure
from cameras.models import Camera, SlotHour
from cameras.schedule import cameras_claim_due, captures_dropped
from cameras.services import cameras_set_enabled, snapshot_record_failure
from cameras.slots import slots_between
from cameras.sources import CaptureError
from tests.cameras.accounting import by_reason, store_empty

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_800_000_000.0  # on an hour boundary


def counted(camera: Camera, **filters: str) -> int:
    return SlotHour.objects.filter(camera=camera, **filters).aggregate(n=Sum("slots"))["n"] or 0


def test_slots_no_round_claimed_are_counted_as_outage(camera_factory):
    cam = camera_factory(interval_s=2.0, timeout_s=1.0, next_run_at=T0 - 61.0)  # 60.x s without a round
    claimed, skipped = cameras_claim_due(now=T0, horizon=T0 + 1.0)
    assert skipped == 0 and len(claimed) == 1
    first_slot = claimed[0][1]
    assert first_slot == pytest.approx(T0 - 1.0)  # the latest slot at or before now is still captured
    assert by_reason(cam) == {("skipped", "outage"): 30}
    # ... in the hours they fell due in: the 30 slots before T0 - 1 straddle the hour boundary at T0.
    hours = dict(SlotHour.objects.filter(camera=cam).values_list("hour", "slots"))
    assert hours == {dt.datetime.fromtimestamp(T0 - 3600, tz=dt.UTC): 30}


def test_a_round_shed_under_backpressure_counts_each_of_its_slots(camera_factory):
    cam = camera_factory(interval_s=0.5, timeout_s=0.4, next_run_at=T0 - 0.2)
    claimed, skipped = cameras_claim_due(now=T0, horizon=T0 + 1.0, shed=1.0)
    assert (claimed, skipped) == ([], 1)
    assert by_reason(cam) == {("skipped", "backpressure"): 3}  # T0-0.2, T0+0.3, T0+0.8
    cam.refresh_from_db()
    assert cam.next_run_at == pytest.approx(T0 + 1.3)


def test_a_slot_skipped_while_a_capture_could_overlap_is_counted_in_flight(camera_factory):
    cam = camera_factory(interval_s=2.0, timeout_s=5.0, next_run_at=T0 - 0.1)
    assert len(cameras_claim_due(now=T0, horizon=T0 + 1.0)[0]) == 1
    assert cameras_claim_due(now=T0 + 1.0, horizon=T0 + 2.0) == ([], 1)
    assert by_reason(cam) == {("skipped", "in_flight"): 1}


def test_an_offline_camera_counts_the_slots_it_waits_out_as_backoff(camera_factory):
    cam = camera_factory(interval_s=1.0, timeout_s=0.5, next_run_at=T0)
    at = dt.datetime.fromtimestamp(T0, tz=dt.UTC)
    for _ in range(3):  # the third failure takes it offline: retried after 2 s
        camera_mark_failure(camera_id=cam.pk, at=at, error="timeout", detail="")
    cam.refresh_from_db()
    assert cam.status == Camera.Status.OFFLINE and cam.next_run_at == pytest.approx(T0 + 2.0)
    assert by_reason(cam) == {("skipped", "backoff"): 2}


def test_failures_and_stores_count_once_per_slot_even_when_redelivered(camera_factory):
    cam = camera_factory(interval_s=1.0, next_run_at=T0)
    at = dt.datetime.fromtimestamp(T0, tz=dt.UTC)
    for _ in range(2):
        snapshot_record_failure(camera_id=cam.pk, scheduled_at=at, error=CaptureError("http_503", "busy"))
    assert store_empty(cam.pk, T0 + 1.0) is True
    assert store_empty(cam.pk, T0 + 1.0) is False
    assert by_reason(cam) == {("failed", "http_503"): 1, ("stored", ""): 1}


def test_captures_that_expired_in_the_queue_are_counted_late_and_free_the_camera(camera_factory):
    cam = camera_factory(interval_s=1.0, next_run_at=T0)
    cameras_claim_due(now=T0, horizon=T0 + 1.0)
    captures_dropped(slots=[(cam.pk, T0)])
    cam.refresh_from_db()
    assert cam.lease_until is None and cam.captures_skipped == 1
    assert by_reason(cam) == {("skipped", "late"): 1}


def test_a_camera_enabled_again_owes_nothing_for_the_time_it_was_off(camera_factory):
    cam = camera_factory(interval_s=1.0, next_run_at=T0 - 500, enabled=False)
    cameras_set_enabled(camera_ids=[cam.pk], enabled=True)
    cameras_claim_due(now=T0, horizon=T0 + 1.0)
    assert counted(cam, outcome="skipped") == 0


def test_over_irregular_rounds_every_due_slot_is_counted_exactly_once(camera_factory):
    """Rounds at random times with long gaps, shedding, captures in flight, stored and failed slots:
    the slots counted equal the camera's fixed-rate grid from its first slot to its next one."""
    rng = random.Random(12)
    cams = [
        camera_factory(interval_s=interval, timeout_s=timeout, next_run_at=T0 + rng.uniform(0, interval))
        for interval, timeout in ((0.5, 0.4), (1.0, 3.0), (2.0, 1.0), (3.0, 5.0))
    ]
    first = {c.pk: c.next_run_at for c in cams}
    now = T0
    for _ in range(150):
        now += rng.choice([1.0, 1.0, 1.0, 1.3, 7.0, 40.0])  # beat ticks, a late tick, outages
        claimed, _ = cameras_claim_due(now=now, horizon=now + 1.0, shed=rng.choice([0, 0, 0, 0.5, 1.0]))
        for camera_id, first_slot, next_slot, interval_s, _timeout, _status in claimed:
            for slot in slots_between(start=first_slot, end=next_slot, interval_s=interval_s):
                if rng.random() < 0.2:
                    at = dt.datetime.fromtimestamp(slot, tz=dt.UTC)
                    snapshot_record_failure(camera_id=camera_id, scheduled_at=at, error=CaptureError("refused", ""))
                    Camera.objects.filter(pk=camera_id).update(consecutive_failures=0, status="online")
                else:
                    store_empty(camera_id, slot)
            if rng.random() < 0.7:  # the others keep their lease: the next round may find them in flight
                Camera.objects.filter(pk=camera_id).update(lease_until=None)
    for cam in cams:
        cam.refresh_from_db()
        due = round((cam.next_run_at - first[cam.pk]) / cam.interval_s)
        reasons = by_reason(cam)
        assert sum(reasons.values()) == due, (cam.interval_s, reasons, due)
        assert reasons.get(("skipped", "outage"), 0) > 0
