"""Stream mode end to end: the Procfile's streams process against the GStreamer RTSP server's clock
clips (10 fps, 2 s key-frame interval, shared media), a real cpu worker, PostgreSQL and Redis.

The clock clip shows a QR code ``CLOCK-ss`` during wall-clock second ``ss``: a detection's code and
its slot's due time bound how old the decoded picture was.
"""

import datetime as dt
import os
import signal
import time
import uuid
from io import StringIO

import psutil
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from cameras.models import Camera, CameraEvent, Snapshot, StreamLease
from cameras.services import camera_upsert
from detections.models import Detection
from devtools import framegen
from devtools.rtsp import CLOCK_PREFIX, clock_clip, gstreamer_available
from tests.workers import Worker, database_url, purge_queues

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return predicate()


@pytest.fixture(scope="module")
def clip():
    if not gstreamer_available():
        pytest.skip("GStreamer RTSP server is not installed")
    return clock_clip(fps=10, gop_s=2.0)


@pytest.fixture
def streams(celery_workers):
    """Factory: start a streams process (the Procfile's line) as host ``node`` would."""
    started: list[Worker] = []
    env = {"DATABASE_URL": database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}

    def start(node: str = "1") -> Worker:
        worker = Worker("streams", {**env, "CAMTRACK_NODE": node})
        started.append(worker)
        worker.wait_ready()
        return worker

    purge_queues()
    yield start
    for worker in started:
        worker.stop()
    purge_queues()


def add(name: str, url: str, *, interval_s: float = 1.0, timeout_s: float = 3.0) -> Camera:
    return camera_upsert(name=name, url=url, interval_s=interval_s, timeout_s=timeout_s)[0]


def ok_after(camera: Camera, since: float) -> int:
    return Snapshot.objects.filter(
        camera=camera, status="ok", scheduled_at__gte=dt.datetime.fromtimestamp(since, tz=dt.UTC)
    ).count()


def connections_to(worker: Worker, port: int) -> int:
    """TCP connections the worker's processes hold to this port."""
    root = psutil.Process(worker.proc.pid)
    return sum(
        1
        for p in [root, *root.children(recursive=True)]
        for c in p.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def picture_age_bounds(camera: Camera) -> list[float]:
    """Per detection: due time minus the start of the second its code names (>= the picture's age).

    Negative when the picture is newer than the slot (a slot that waited for a session's first picture).
    """
    bounds = []
    for text, scheduled_at in Detection.objects.filter(camera=camera).values_list("text", "scheduled_at"):
        assert text.startswith(CLOCK_PREFIX), text
        bounds.append((scheduled_at.timestamp() - int(text.removeprefix(CLOCK_PREFIX)) + 30) % 60 - 30)
    return bounds


def test_every_slot_is_served_with_a_fresh_picture_over_one_session(clip, rtsp_server, streams):
    server = rtsp_server(clips={f"c{i}": clip for i in range(3)})
    cameras = [add(f"fresh-{i}", server.url(f"c{i}")) for i in range(3)]
    streams()
    assert wait_for(lambda: all(ok_after(c, 0) for c in cameras), timeout=20), "no camera delivered"
    start = time.time() + 0.5
    time.sleep(8.5)
    for camera in cameras:
        slots = Snapshot.objects.filter(
            camera=camera,
            scheduled_at__gte=dt.datetime.fromtimestamp(start, tz=dt.UTC),
            scheduled_at__lt=dt.datetime.fromtimestamp(start + 7, tz=dt.UTC),
        )
        assert sorted(slots.values_list("status", flat=True)) == ["ok"] * 7, list(slots.values("status", "error"))
        # Every frame is decoded at a 1 s interval with a 2 s key-frame interval, so no picture is
        # older than 1.5 s (the bound includes up to a second of the code's own lifetime).
        bounds = picture_age_bounds(camera)
        assert len(bounds) >= 8 and max(bounds) <= 1.5, sorted(bounds)
    status = server.status()
    assert status["plays"] == {"c0": 1, "c1": 1, "c2": 1} and status["playing"] == status["plays"], status


def test_a_stalled_stream_fails_its_slots_as_stale_and_recovers(clip, rtsp_server, streams):
    server = rtsp_server(clips={"st": clip})
    camera = add("stall", server.url("st"), interval_s=1.0, timeout_s=2.0)
    process = streams()
    assert wait_for(lambda: ok_after(camera, 0), timeout=20)
    stalled_at = time.time()
    server.stall("st")
    assert wait_for(lambda: Camera.objects.get(pk=camera.pk).status == "offline", timeout=15)
    failed = Snapshot.objects.filter(camera=camera, status="failed")
    assert set(failed.values_list("error", flat=True)) == {"stale"}
    # Nothing older than the timeout was passed off as fresh.
    assert not Snapshot.objects.filter(
        camera=camera, status="ok", scheduled_at__gt=dt.datetime.fromtimestamp(stalled_at + 2.0 + 0.5, tz=dt.UTC)
    ).exists()
    resumed_at = time.time()
    server.resume("st")
    assert wait_for(lambda: ok_after(camera, resumed_at), timeout=2.0 + 12)
    assert connections_to(process, server.port) == 1  # the sessions that timed out were closed
    assert Camera.objects.get(pk=camera.pk).status == "online"
    assert list(CameraEvent.objects.filter(camera=camera).order_by("at").values_list("status", flat=True))[-2:] == [
        "offline",
        "online",
    ]


def test_a_restarted_server_shows_as_failed_slots_and_every_camera_comes_back(clip, rtsp_server, streams):
    server = rtsp_server(clips={f"r{i}": clip for i in range(3)})
    cameras = [add(f"restart-{i}", server.url(f"r{i}"), timeout_s=3.0) for i in range(3)]
    process = streams()
    assert wait_for(lambda: all(ok_after(c, 0) for c in cameras), timeout=20)
    server.kill()
    killed_at = time.time()
    time.sleep(10)
    server.start()
    back_at = time.time()
    assert wait_for(lambda: all(ok_after(c, back_at) for c in cameras), timeout=3.0 + 10), [
        ok_after(c, back_at) for c in cameras
    ]
    for camera in cameras:
        # Every slot of the outage is there, failed with why; none is silent.
        outage = Snapshot.objects.filter(
            camera=camera,
            scheduled_at__gte=dt.datetime.fromtimestamp(killed_at + 1, tz=dt.UTC),
            scheduled_at__lt=dt.datetime.fromtimestamp(back_at, tz=dt.UTC),
        )
        assert outage.count() >= 9 and set(outage.values_list("status", flat=True)) == {"failed"}
        assert set(outage.values_list("error", flat=True)) <= {"refused", "empty", "stale", "stream"}
    # The restarted server saw one new session per camera, and the process holds no other connection
    # to it: every failed attempt during the outage was closed.
    assert wait_for(lambda: server.status()["plays"] == {"r0": 1, "r1": 1, "r2": 1}, timeout=3), server.status()
    assert connections_to(process, server.port) == 3


def test_two_streams_processes_split_the_cameras_and_one_takes_over_when_the_other_dies(clip, rtsp_server, streams):
    server = rtsp_server(clips={f"f{i}": clip for i in range(4)})
    cameras = [add(f"failover-{i}", server.url(f"f{i}"), interval_s=1.0) for i in range(4)]
    first = streams("a")
    second = streams("b")

    def holders() -> dict[str, int]:
        now, out = time.time(), {}
        for holder in StreamLease.objects.filter(lease_until__gt=now).values_list("holder", flat=True):
            out[holder] = out.get(holder, 0) + 1
        return out

    assert wait_for(lambda: sorted(holders().values()) == [2, 2], timeout=20), holders()
    assert wait_for(lambda: all(ok_after(c, time.time() - 1.5) for c in cameras), timeout=15)
    victim = next(h for h in holders() if h.startswith("streams-a@"))
    mine = set(StreamLease.objects.filter(holder=victim).values_list("camera_id", flat=True))
    os.killpg(first.proc.pid, signal.SIGKILL)
    killed_at = time.time()
    assert wait_for(lambda: all(ok_after(c, killed_at + 1) for c in cameras if c.pk in mine), timeout=20), (
        second.output()[-3000:],
        list(StreamLease.objects.values()),
        killed_at,
    )
    assert list(holders().values()) == [4] and victim not in holders()
    # Each mount had at most one session at a time: the dead process's sessions closed with it.
    assert all(n <= 1 for n in server.status()["playing"].values()), server.status()
    assert second.proc.poll() is None


def test_capture_command_works_for_a_stream_camera(clip, rtsp_server):
    server = rtsp_server(clips={"cap": clip})
    add("capture-stream", server.url("cap"), timeout_s=5.0)
    out = StringIO()
    call_command("capture", "capture-stream", "--json", stdout=out)
    assert '"ok": true' in out.getvalue() and CLOCK_PREFIX in out.getvalue(), out.getvalue()
    connection.close()


def test_credentials_reach_the_camera_and_nothing_else(rtsp_server, streams, tmp_path):
    if not gstreamer_available():
        pytest.skip("GStreamer RTSP server is not installed")
    password, wrong = "pw-" + uuid.uuid4().hex, "wrong-" + uuid.uuid4().hex
    picture = tmp_path / "locked.png"
    picture.write_bytes(framegen.png(framegen.qr_gray("LOCKED-STREAM")))
    server = rtsp_server({"locked": picture}, auth={"locked": ("viewer", password)})
    good = camera_upsert(name="auth-good", url=server.url("locked"), username="viewer", password=password)[0]
    bad = camera_upsert(
        name="auth-bad", url=server.url("locked").replace("://", f"://viewer:{wrong}@"), interval_s=1.0
    )[0]
    assert (good.mode, bad.mode, bad.password) == ("stream", "stream", wrong)
    process = streams()
    assert wait_for(lambda: ok_after(good, 0) and Camera.objects.get(pk=bad.pk).status == "offline", timeout=30)
    assert set(Snapshot.objects.filter(camera=bad).values_list("error", flat=True)) == {"auth_failed"}
    assert Detection.objects.filter(camera=good, text="LOCKED-STREAM").exists()
    texts = [
        process.output(),
        *Snapshot.objects.values_list("error_detail", flat=True),
        *Camera.objects.values_list("last_error", flat=True),
        *CameraEvent.objects.values_list("reason", flat=True),
    ]
    for secret in (password, wrong):
        assert not [t for t in texts if secret in t]
