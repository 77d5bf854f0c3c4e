"""The ledger of claimed slots: a slot whose task died with its worker is counted once, as lost,
and its late redelivery counts nothing more."""

import pytest

from cameras import ledger
from cameras.latest import frame_store
from cameras.models import Camera, Snapshot
from cameras.schedule import captures_dropped
from pipeline.dispatch import camera_dispatch_due
from tests.cameras.accounting import by_reason, store_empty
from tests.workers import purge_queues

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_900_000_000.0


@pytest.fixture(autouse=True)
def published(monkeypatch) -> list:
    """Captures dispatched here go nowhere: their worker 'died' before running them."""
    from pipeline import tasks

    sent: list = []
    monkeypatch.setattr(tasks.capture, "apply_async", lambda *a, **k: sent.append((a, k)))
    purge_queues()
    return sent


def _open() -> dict[str, float]:
    return {m.decode(): score for m, score in frame_store().zrange(ledger.OPEN_KEY, 0, -1, withscores=True)}


def test_dispatch_opens_each_claimed_slot_until_its_outcome_is_counted(camera_factory):
    cam = camera_factory(interval_s=0.5, timeout_s=0.4, next_run_at=T0)
    assert camera_dispatch_due(now=T0).dispatched == 2  # T0 and T0 + 0.5
    opened = _open()
    assert set(opened) == {f"{cam.pk}:{T0:.6f}", f"{cam.pk}:{T0 + 0.5:.6f}"}
    assert opened[f"{cam.pk}:{T0:.6f}"] == pytest.approx(T0 + ledger.deadline_s(0.4))
    assert store_empty(cam.pk, T0)
    assert set(_open()) == {f"{cam.pk}:{T0 + 0.5:.6f}"}


def test_a_slot_whose_worker_died_is_recorded_lost_once_and_its_late_return_counts_nothing(camera_factory):
    cam = camera_factory(interval_s=2.0, timeout_s=1.0, next_run_at=T0)
    assert camera_dispatch_due(now=T0).dispatched == 1
    assert ledger.slots_reconcile(now=T0 + ledger.deadline_s(1.0) - 1) == 0  # not yet past its deadline
    past = T0 + ledger.deadline_s(1.0) + 1
    assert ledger.slots_reconcile(now=past) == 1
    assert ledger.slots_reconcile(now=past) == 0
    lost = Snapshot.objects.get(camera=cam)
    assert (lost.status, lost.error) == ("failed", "lost")
    assert by_reason(cam) == {("failed", "lost"): 1}
    cam.refresh_from_db()
    assert cam.status == Camera.Status.NEW  # the camera did nothing wrong: its health is untouched
    # The broker hands the capture back after its visibility timeout: it has expired by then...
    captures_dropped(slots=[(cam.pk, T0)])
    # ... or a decode of it comes back late: the slot is taken, nothing is counted twice.
    assert store_empty(cam.pk, T0) is False
    assert by_reason(cam) == {("failed", "lost"): 1}


def test_an_expired_capture_counts_its_slots_once_however_often_it_comes_back(camera_factory):
    cam = camera_factory(interval_s=1.0, timeout_s=0.5, next_run_at=T0)
    camera_dispatch_due(now=T0)
    for _ in range(2):
        captures_dropped(slots=[(cam.pk, T0)])
    assert by_reason(cam) == {("skipped", "late"): 1}
    assert _open() == {}
    assert ledger.slots_reconcile(now=T0 + 10_000) == 0


def test_a_stored_slot_left_open_is_not_called_lost(camera_factory):
    cam = camera_factory(interval_s=2.0, timeout_s=1.0, next_run_at=T0)
    camera_dispatch_due(now=T0)
    assert store_empty(cam.pk, T0)
    frame_store().zadd(ledger.OPEN_KEY, {f"{cam.pk}:{T0:.6f}": T0})  # its close never reached Redis
    assert ledger.slots_reconcile(now=T0 + 1) == 0
    assert by_reason(cam) == {("stored", ""): 1}


def test_slots_claimed_before_the_frame_store_lost_its_keys_are_still_counted(camera_factory):
    cam = camera_factory(interval_s=2.0, timeout_s=1.0, next_run_at=T0)
    camera_dispatch_due(now=T0)
    frame_store().delete(ledger.OPEN_KEY, ledger.SINCE_KEY)  # restarted empty
    camera_dispatch_due(now=T0 + 2.0)  # a new ledger, from T0 + 2
    captures_dropped(slots=[(cam.pk, T0), (cam.pk, T0 + 2.0)])
    assert by_reason(cam) == {("skipped", "late"): 2}
    captures_dropped(slots=[(cam.pk, T0 + 2.0)])  # known to the new ledger: once
    assert by_reason(cam) == {("skipped", "late"): 2}
