"""A broker restart under load: every process reconnects or is restarted, the pipeline is storing
again within 30 s of the broker's return, and each slot is counted once."""

import os
import signal
import tempfile
import time

import pytest
from django.db.models import Sum

from cameras.models import Camera, SlotHour, Snapshot
from cameras.services import camera_upsert
from devtools.outagecheck import lost_recorded, wait_settled
from devtools.redisserver import RedisServer
from devtools.simulator import Simulator
from tests.workers import Supervised, database_url

CAMERAS = 12
INTERVAL_S = 1.0
NOMINAL = CAMERAS / INTERVAL_S  # snapshots/s offered
RECOVERY_CEILING_S = 30.0
# Frames kept 10 s and 5 s of grace: a claimed slot with no outcome is called lost 19.5 s after it was
# due (lag 2 + timeout 2 + stragglers 0.5 + 10 + 5), not the two minutes of the defaults.
SHORT_DEADLINE = {"CAMTRACK_FRAME_TTL_S": "10", "CAMTRACK_SLOT_GRACE_S": "5"}
DEADLINE_S = 19.5 + 1.0 + 1.0  # and a dispatch round's lookahead, and a margin


def _stored() -> int:
    return Snapshot.objects.filter(status=Snapshot.Status.OK, camera__name__startswith="out-").count()


def _rate(window_s: float = 2.0) -> float:
    before = _stored()
    time.sleep(window_s)
    return (_stored() - before) / window_s


def _wait_nominal(timeout_s: float, share: float = 0.9) -> float | None:
    """Seconds until a window stores at least ``share`` of the nominal rate; None if it never does."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if _rate() >= share * NOMINAL:
            return time.monotonic() - start
    return None


@pytest.fixture
def broker():
    server = RedisServer().start()
    yield server
    server.close()


@pytest.mark.django_db(transaction=True)
def test_pipeline_recovers_from_a_broker_restart_under_load(broker):
    sim = Simulator(port=0, cameras=CAMERAS).start()
    data_dir = tempfile.mkdtemp(prefix="camtrack-outage-")
    env = {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker.url(0),
        "CAMTRACK_FRAME_STORE_URL": broker.url(0),
        "CAMTRACK_DATA_DIR": data_dir,
        "CAMTRACK_CPU_CONCURRENCY": "2",
        "CAMTRACK_IO_CONCURRENCY": "8",
        **SHORT_DEADLINE,
    }
    for i in range(CAMERAS):
        name = f"sim-{i + 1:02d}"
        camera_upsert(name=f"out-{i + 1:02d}", url=sim.url(name), interval_s=INTERVAL_S, timeout_s=2.0)
    first_slots = dict(Camera.objects.values_list("pk", "next_run_at"))
    procs = {name: Supervised(name, env) for name in ("io", "cpu", "beat")}
    try:
        assert _wait_nominal(60) is not None, _logs(procs)

        broker.stop()
        time.sleep(3)
        broker.start()
        back_after = _wait_nominal(RECOVERY_CEILING_S)
        assert back_after is not None, f"not back to 90% of {NOMINAL}/s within {RECOVERY_CEILING_S} s\n{_logs(procs)}"
        # Still storing a while later (a worker that reconnects but stops consuming would show here as
        # next to nothing); over 6 s, since stores land in batches and a 3 s window swings by a batch.
        assert _rate(6.0) >= 0.75 * NOMINAL, _logs(procs)
        for p in procs.values():
            assert p.child_alive(), f"{p.name} is not running\n{_logs(procs)}"
        print(
            f"back to nominal {back_after:.1f} s after the broker's return; "
            f"restarts: {', '.join(f'{n} {p.restarts()}' for n, p in procs.items())}"
        )
    finally:
        procs["beat"].stop()
        # Captures held by the io worker when the broker went down come back only after the visibility
        # timeout; past their deadline they are recorded as lost, as the next dispatch round would.
        print(lost_recorded({**env, "DATABASE_URL": database_url()}, DEADLINE_S))
        wait_settled(lambda: SlotHour.objects.aggregate(n=Sum("slots"))["n"] or 0, quiet_s=5)
        for name in ("io", "cpu"):
            procs[name].stop()
        sim.stop()
    # Every slot is stored, failed or skipped once: what was due per camera is the grid from its first
    # slot to its next one; a slot counted twice would make the sum exceed it.
    totals = {"due": 0, "accounted": 0}
    for camera in Camera.objects.filter(name__startswith="out-"):
        due = round((camera.next_run_at - first_slots[camera.pk]) / camera.interval_s)
        accounted = SlotHour.objects.filter(camera=camera).aggregate(n=Sum("slots"))["n"] or 0
        snapshots = Snapshot.objects.filter(camera=camera).count()
        totals["due"] += due
        totals["accounted"] += accounted
        assert snapshots <= accounted
        assert accounted == due, f"{camera.name}: {accounted} counted of {due} due"
    outcomes = SlotHour.objects.values_list("outcome", "reason").annotate(n=Sum("slots")).order_by("outcome")
    print(f"slots due {totals['due']}, accounted {totals['accounted']}: {list(outcomes)}")


def _logs(procs: dict[str, Supervised]) -> str:
    return "\n".join(f"===== {n}\n{p.output()[-3000:]}" for n, p in procs.items())


@pytest.mark.django_db(transaction=True)
def test_killed_io_worker_and_beat_are_restarted_and_storing_resumes(broker):
    sim = Simulator(port=0, cameras=CAMERAS).start()
    env = {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker.url(0),
        "CAMTRACK_DATA_DIR": tempfile.mkdtemp(prefix="camtrack-kill-"),
        "CAMTRACK_CPU_CONCURRENCY": "2",
        "CAMTRACK_IO_CONCURRENCY": "8",
    }
    for i in range(CAMERAS):
        camera_upsert(name=f"out-{i + 1:02d}", url=sim.url(f"sim-{i + 1:02d}"), interval_s=INTERVAL_S, timeout_s=0.8)
    procs = {name: Supervised(name, env) for name in ("io", "cpu", "beat")}
    try:
        assert _wait_nominal(60) is not None, _logs(procs)
        killed = {name: procs[name].child_pid() for name in ("io", "beat")}
        for pid in killed.values():
            os.kill(pid, signal.SIGKILL)
        back_after = _wait_nominal(RECOVERY_CEILING_S)
        assert back_after is not None, f"not back within {RECOVERY_CEILING_S} s\n{_logs(procs)}"
        for name, pid in killed.items():
            assert procs[name].restarts() == 1 and procs[name].child_pid() != pid, _logs(procs)
        assert all(p.child_alive() for p in procs.values()), _logs(procs)
        print(f"back to nominal {back_after:.1f} s after SIGKILL of io and beat")
    finally:
        for p in procs.values():
            p.stop()
        sim.stop()
