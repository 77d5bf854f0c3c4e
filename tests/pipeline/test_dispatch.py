import random
import threading
import time
import uuid
from dataclasses import replace

import pytest
from django.db import connection

from cameras.models import Camera
from cameras.services import camera_upsert
from pipeline.dispatch import MAX_RISE, SHED_KEY, ShedState, camera_dispatch_due, load_offered, load_shed, shed_next
from tests.workers import purge_queues

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _own_controller(monkeypatch):
    """The load controller's state and the decoded-frames counter under keys of this test's own: a
    beat or cpu worker left running by another test would otherwise move them meanwhile."""
    from pipeline import dispatch, framestore

    own = f"test-{uuid.uuid4().hex}"
    monkeypatch.setattr(dispatch, "SHED_KEY", f"{SHED_KEY}:{own}")
    monkeypatch.setattr(framestore, "DECODED_KEY", f"{framestore.DECODED_KEY}:{own}")
    yield
    framestore.client().delete(dispatch.SHED_KEY, framestore.DECODED_KEY)


@pytest.fixture(autouse=True)
def published(monkeypatch) -> list:
    """What dispatch enqueues, kept here: these tests are about the claim and the batches. Real
    workers from other tests would otherwise run the captures and write to the database while it is
    being flushed between tests."""
    from pipeline import tasks

    sent: list = []
    monkeypatch.setattr(tasks.capture, "apply_async", lambda *a, **k: sent.append((a, k)))
    return sent


@pytest.fixture(autouse=True)
def _empty_queues():
    purge_queues()
    yield
    purge_queues()


def test_due_cameras_are_dispatched_once_and_advance_by_whole_intervals(camera_factory):
    now = 1_000_000.0
    due = camera_factory(interval_s=2.0, next_run_at=now - 0.5)
    late = camera_factory(interval_s=2.0, next_run_at=now - 7.0)  # missed three slots
    not_yet = camera_factory(interval_s=2.0, next_run_at=now + 1.0)
    camera_factory(interval_s=2.0, next_run_at=now - 1.0, enabled=False)

    result = camera_dispatch_due(now=now)

    assert (result.dispatched, result.skipped) == (2, 0)
    due.refresh_from_db()
    late.refresh_from_db()
    not_yet.refresh_from_db()
    # Fixed rate: the next due time keeps the camera's phase, not the dispatch time.
    assert due.next_run_at == pytest.approx(now + 1.5)
    assert late.next_run_at == pytest.approx(now + 1.0)
    assert not_yet.next_run_at == pytest.approx(now + 1.0)
    assert due.lease_until > now


def test_camera_with_capture_in_flight_is_skipped_and_counted(camera_factory, monkeypatch):
    # Nothing runs the capture (see `published`): the lease stays held.
    now = 2_000_000.0
    cam = camera_factory(interval_s=2.0, timeout_s=5.0, next_run_at=now - 0.1)  # captures may overlap
    assert camera_dispatch_due(now=now).dispatched == 1
    second = camera_dispatch_due(now=now + 1.0)  # due within this round again, lease still held
    assert (second.dispatched, second.skipped) == (0, 1)
    cam.refresh_from_db()
    assert cam.captures_skipped == 1
    # Once the lease is released the camera is dispatched at its next slot.
    Camera.objects.filter(pk=cam.pk).update(lease_until=None)
    assert camera_dispatch_due(now=now + 3.0).dispatched == 1


def test_racing_rounds_never_dispatch_a_camera_twice(camera_factory):
    now = time.time()
    Camera.objects.bulk_create(
        [
            Camera(name=f"race-{i}", url=f"http://127.0.0.1:9/{i}", interval_s=60, next_run_at=now - 1)
            for i in range(300)
        ]
    )
    results, errors = [], []

    def round_() -> None:
        try:
            results.append(camera_dispatch_due(now=now))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=round_) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.dispatched for r in results) == 300


def test_first_due_times_are_spread_over_the_interval():
    before = time.time()
    cams = [camera_upsert(name=f"spread-{i}", url=f"http://127.0.0.1:9/{i}", interval_s=10.0)[0] for i in range(40)]
    offsets = [c.next_run_at - before for c in cams]
    assert all(-0.01 <= o <= 10.5 for o in offsets)
    # Not all in one burst: they fall into several seconds of the interval.
    assert len({int(o) for o in offsets}) >= 4


def test_fast_camera_gets_one_capture_per_slot_in_the_round(camera_factory):
    now = 3_000_000.0
    cam = camera_factory(interval_s=0.5, next_run_at=now - 0.2)
    result = camera_dispatch_due(now=now, lookahead_s=1.0)
    assert result.dispatched == 3  # slots now-0.2, now+0.3 and now+0.8 fall in this round's window
    cam.refresh_from_db()
    assert cam.next_run_at == pytest.approx(now + 1.3)


def test_healthy_cameras_due_together_share_a_task_and_unhealthy_ones_travel_alone(settings):
    from pipeline.dispatch import capture_batches

    settings.CAMTRACK_BATCH_SIZE, settings.CAMTRACK_BATCH_WINDOW_S = 3, 0.1
    now = 100.0
    # (id, first slot, next slot, interval, timeout, status)
    claimed = [(i, now + 0.01 * i, now + 5, 5.0, 2.0, "online" if i < 5 else "new") for i in range(1, 6)]
    claimed += [(9, now + 0.02, now + 5, 5.0, 2.0, "offline"), (10, now + 0.5, now + 5, 5.0, 2.0, "online")]
    claimed += [(11, now + 0.03, now + 5, 5.0, 2.0, "degraded")]
    batches = capture_batches(claimed, now)
    members = sorted(sorted(s.camera_id for s in slots) for _, _, slots in batches)
    assert members == [[1, 2, 3], [4, 5], [9], [10], [11]]
    for eta, expires, slots in batches:
        assert eta == pytest.approx(max(s.slot for s in slots))  # nobody is captured before its slot
        assert expires > eta


def test_a_saturated_decode_stage_makes_the_round_skip(camera_factory, settings, monkeypatch):
    from pipeline import dispatch

    cams = camera_factory.create_batch(3, interval_s=5.0, next_run_at=time.time() - 0.5)
    # A deep backlog of decode work, as the broker reports it (a cpu worker left running by another
    # test would drain fake messages from the real queue).
    waiting = {"tasks": 2 * settings.CAMTRACK_MAX_DECODE_BACKLOG}
    monkeypatch.setattr(dispatch, "decode_backlog", lambda: waiting["tasks"])
    start = time.time() - settings.CAMTRACK_SHED_AFTER_S - 1
    for at in (start, start + settings.CAMTRACK_SHED_AFTER_S):  # the backlog has lasted, and sheds already
        load_shed(2 * settings.CAMTRACK_MAX_DECODE_BACKLOG, now=at)
    result = camera_dispatch_due()
    assert (result.dispatched, result.skipped) == (0, 3)
    for cam in cams:
        cam.refresh_from_db()
        assert cam.captures_skipped == 1 and cam.lease_until is None and cam.next_run_at > time.time()
    purge_queues()
    waiting["tasks"] = 0
    # Once the queue is clear the share falls round by round, and every camera is captured again.
    captured, at = set(), time.time()
    for round_ in range(1, 9):
        before = {c.pk: c.captures_skipped for c in Camera.objects.filter(pk__in=[c.pk for c in cams])}
        camera_dispatch_due(now=at + 5 * round_)
        after = {c.pk: c.captures_skipped for c in Camera.objects.filter(pk__in=[c.pk for c in cams])}
        captured |= {pk for pk in before if after[pk] == before[pk]}
    assert captured == {c.pk for c in cams}


def test_a_huge_round_is_cut_into_a_bounded_number_of_tasks():
    from pipeline.dispatch import MAX_TASKS_PER_ROUND, capture_batches

    now = 100.0
    claimed = [(i, now - 0.5, now + 59.5, 60.0, 5.0, "online") for i in range(10_000)]
    batches = capture_batches(claimed, now)
    assert len(batches) <= MAX_TASKS_PER_ROUND
    assert sorted(s.camera_id for _, _, slots in batches for s in slots) == list(range(10_000))


def test_a_moderate_backlog_sheds_a_share_of_the_round(settings, monkeypatch):
    from pipeline import dispatch

    now = time.time()
    Camera.objects.bulk_create(
        [
            Camera(name=f"shed-{i}", url=f"http://127.0.0.1:9/{i}", interval_s=60, next_run_at=now - 1)
            for i in range(400)
        ]
    )
    # The backlog as the broker would report it (a cpu worker left running could drain a real queue).
    # Over target (3) since long enough ago, below the limit (6), nothing measured yet: this round
    # sheds a sixth ((5 - 3) / 6 / 2).
    monkeypatch.setattr(dispatch, "decode_backlog", lambda: settings.CAMTRACK_MAX_DECODE_BACKLOG - 1)
    load_shed(settings.CAMTRACK_MAX_DECODE_BACKLOG - 1, now=now - settings.CAMTRACK_SHED_AFTER_S - 0.1)
    result = camera_dispatch_due(now=now)
    assert result.dispatched + result.skipped == 400
    assert 30 <= result.skipped <= 110, result


def _decode_stage(capacity: float, offered: float, *, seconds: int = 150, seed: int = 1) -> tuple[list, list]:
    """Rounds of the controller against a decode stage that works off ``capacity`` frames/s (±10 %),
    fed ``offered`` slots/s less the shed share, a round late (capture takes that long); the
    dispatcher sees waiting tasks of 30 frames, beyond the two being decoded. Returns the shares and
    the backlogs (tasks waiting) the rounds saw."""
    rng = random.Random(seed)
    limit, per_task = 6, 30.0
    state, queued, counter, in_capture = ShedState(), 0.0, 0, 0.0
    shares, backlogs = [], []
    for second in range(seconds):
        now = 1_000_000.0 + second
        backlog = max(0, int(queued // per_task) - 2)
        backlogs.append(backlog)
        state = shed_next(state, backlog=backlog, decoded=counter, now=now, limit=limit, after_s=3.0)
        state = replace(state, offered=offered, per_task=per_task)
        shares.append(state.shed)
        queued += in_capture
        in_capture = offered * (1 - state.shed) * rng.uniform(0.95, 1.05)
        done = min(queued, capacity * rng.uniform(0.9, 1.1))
        queued -= done
        counter += int(done)
    return shares[30:], backlogs[30:]


@pytest.mark.parametrize("capacity", [250.0, 300.0, 320.0])
def test_an_overloaded_decode_stage_sheds_about_the_excess_and_holds_its_backlog(capacity):
    offered = 333.0
    excess = 1 - capacity / offered
    for seed in (1, 2, 3):
        shares, backlogs = _decode_stage(capacity, offered, seed=seed)
        mean = sum(shares) / len(shares)
        assert excess - 0.02 <= mean <= excess + 0.08, (seed, mean)
        # No swing between shedding most cameras and none: that is what left latency peaks behind.
        assert max(shares) <= excess + 0.35, (seed, max(shares))
        # The backlog is held about its target (3 tasks). A rise is given CAMTRACK_SHED_AFTER_S before
        # anything is shed (below the limit of 6), so at a quarter over capacity it tops out near 10.
        assert sum(backlogs) / len(backlogs) <= 3.6, seed
        assert sorted(backlogs)[int(0.95 * len(backlogs))] <= 10, seed


def test_a_decode_stage_with_room_sheds_nothing():
    shares, backlogs = _decode_stage(400.0, 333.0)
    assert max(shares) == 0.0 and max(backlogs) == 0


def test_a_stalled_decode_stage_gets_time_before_anything_is_shed():
    limit, after = 6, 3.0
    state = ShedState(offered=300.0, per_task=30.0, rate=300.0, decoded=1000, at=999.0)
    # Tasks pile up and nothing is decoded (a worker restarting): nothing shed until `after` has passed...
    for t in (1000.0, 1001.0, 1002.0):
        state = shed_next(state, backlog=10, decoded=1000, now=t, limit=limit, after_s=after)
        assert state.shed == 0.0
    # ... then the stage counts as overloaded, and the share rises by at most MAX_RISE a round.
    state = shed_next(state, backlog=12, decoded=1000, now=1003.0, limit=limit, after_s=after)
    assert state.shed == pytest.approx(MAX_RISE)
    state = shed_next(state, backlog=13, decoded=1000, now=1004.0, limit=limit, after_s=after)
    assert state.shed == pytest.approx(2 * MAX_RISE)
    # While it works the backlog off the share holds; with work still waiting it falls a little...
    held = shed_next(state, backlog=8, decoded=1400, now=1004.5, limit=limit, after_s=after)
    assert held.shed == state.shed
    lower = shed_next(held, backlog=2, decoded=1700, now=1005.0, limit=limit, after_s=after)
    assert lower.shed == pytest.approx(held.shed - 0.05)
    # ... and once the queue is clear, to what the measured rate calls for: here nothing.
    clear = shed_next(replace(lower, rate=300.0), backlog=0, decoded=2000, now=1006.0, limit=limit, after_s=after)
    assert clear.shed == 0.0


def test_the_controller_keeps_its_state_in_the_frame_store(settings):
    from pipeline import framestore

    limit = settings.CAMTRACK_MAX_DECODE_BACKLOG
    store = framestore.client()
    store.set(framestore.DECODED_KEY, 0)
    t = 1_000_000.0
    assert load_shed(0, now=t) == 0.0
    load_offered(slots=300, tasks=10, lookahead_s=1.0)
    store.incrby(framestore.DECODED_KEY, 250)
    # Over target for the first time: a burst until it has lasted CAMTRACK_SHED_AFTER_S.
    assert load_shed(limit + 4, now=t + 1) == 0.0
    # It lasted, decoding at 250 frames/s of 300 offered: the share rises, within two rounds to the excess.
    after = settings.CAMTRACK_SHED_AFTER_S
    store.incrby(framestore.DECODED_KEY, int(250 * after))
    first = load_shed(limit + 4, now=t + 1 + after)
    store.incrby(framestore.DECODED_KEY, 250)
    second = load_shed(limit + 4, now=t + 2 + after)
    assert 0 < first < second and 1 - 250 / 300 <= second <= 1.0


def test_a_lease_never_skips_a_camera_whose_capture_cannot_overlap_the_next(camera_factory, monkeypatch):
    now = 2_000_000.0
    cam = camera_factory(interval_s=2.0, timeout_s=2.0, next_run_at=now - 0.1)
    assert camera_dispatch_due(now=now).dispatched == 1
    # The first capture is not stored yet (its lease is held), but it is over by the next slot.
    assert camera_dispatch_due(now=now + 1.0).dispatched == 1
    cam.refresh_from_db()
    assert cam.captures_skipped == 0
