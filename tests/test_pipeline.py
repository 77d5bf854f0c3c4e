"""End to end on real services: beat or dispatch -> io worker -> frame store -> cpu worker -> database."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from io import StringIO

import psutil
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.models import Camera, Snapshot
from cameras.services import camera_upsert
from detections.models import Detection
from devtools import framegen
from pipeline.dispatch import camera_dispatch_due
from tests.workers import ROOT, procfile_line, purge_queues

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float, every: float = 0.25, tick=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return predicate()


def texts_by_camera() -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for name, text in Detection.objects.values_list("camera__name", "text"):
        seen.setdefault(name, set()).add(text)
    return seen


@pytest.fixture(autouse=True)
def _clean_queues():
    purge_queues()
    yield
    purge_queues()


def test_six_http_and_two_rtsp_cameras_deliver_their_exact_payloads(celery_workers, simulator, rtsp_server, tmp_path):
    """Cameras added with add_camera show exactly their payloads in /api/detections/, all online."""
    expected = {}
    for i in range(6):
        name = f"http-{i}"
        text = f"PARCEL {uuid.uuid4()} ü→{i}"
        simulator.set_payload(name, text)
        call_command(
            "add_camera",
            "--name",
            name,
            "--url",
            simulator.url(name),
            "--interval",
            "1",
            "--timeout",
            "3",
            stdout=StringIO(),
        )
        expected[name] = text
    mounts = {}
    for i in range(2):
        image = tmp_path / f"rtsp-{i}.png"
        expected[f"rtsp-{i}"] = f"RTSP-{uuid.uuid4()}"
        image.write_bytes(framegen.png(framegen.qr_gray(expected[f"rtsp-{i}"])))
        mounts[f"dock{i}"] = str(image)
    base = rtsp_server(mounts=mounts)
    for i in range(2):
        call_command(
            "add_camera",
            "--name",
            f"rtsp-{i}",
            "--url",
            f"{base}/dock{i}",
            "--interval",
            "1",
            "--timeout",
            "5",
            # A connection per capture, by the io workers (stream mode has tests of its own).
            "--mode",
            "snapshot",
            stdout=StringIO(),
        )

    user = User.objects.create_user("ops")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    def api_texts() -> dict[str, set[str]]:
        rows = api.get("/api/detections/?page_size=1000").json()["results"]
        seen: dict[str, set[str]] = {}
        for row in rows:
            seen.setdefault(row["camera"], set()).add(row["text"])
        return seen

    def all_seen() -> bool:
        seen = api_texts()
        return all(text in seen.get(name, set()) for name, text in expected.items())

    assert wait_for(all_seen, timeout=45, every=0.5, tick=camera_dispatch_due), (
        api_texts(),
        list(Camera.objects.values("name", "status", "last_error")),
    )
    seen = api_texts()
    for name, text in expected.items():
        assert seen[name] == {text}, f"{name} saw {seen[name]}"
    cameras = api.get("/api/cameras/").json()["results"]
    assert {c["name"]: c["status"] for c in cameras} == dict.fromkeys(expected, "online")
    # Every detection row belongs to a snapshot of the same camera and slot, exactly once.
    for d in Detection.objects.select_related("snapshot"):
        assert d.snapshot.camera_id == d.camera_id and d.snapshot.scheduled_at == d.scheduled_at
        assert d.created_at >= d.scheduled_at


def test_beat_drives_captures_without_help(celery_workers, simulator, tmp_path):
    text = f"BEAT-{uuid.uuid4()}"
    simulator.set_payload("beat-cam", text)
    camera_upsert(name="beat-cam", url=simulator.url("beat-cam"), interval_s=0.5, timeout_s=2.0)
    env = {
        **os.environ,
        "DATABASE_URL": celery_workers["io"].env["DATABASE_URL"],
        "CAMTRACK_DATA_DIR": str(tmp_path),
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
    }
    beat = subprocess.Popen(
        ["sh", "-c", "exec " + procfile_line("beat")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_for(lambda: Detection.objects.filter(camera__name="beat-cam", text=text).count() >= 3, 30)
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(10)
    # Fixed rate at 0.5 s: slots are whole intervals apart.
    slots = sorted(Snapshot.objects.filter(camera__name="beat-cam").values_list("scheduled_at", flat=True))
    gaps = [(b - a).total_seconds() for a, b in zip(slots, slots[1:], strict=False)]
    assert all(abs(g / 0.5 - round(g / 0.5)) < 0.01 for g in gaps), gaps


def test_killed_cpu_process_mid_task_loses_and_doubles_nothing(celery_workers, simulator):
    """SIGKILL the cpu pool's processes while they decode; every slot is still stored exactly once."""
    cpu = celery_workers["cpu"]
    payloads = {}
    for i in range(8):
        name = f"kill-{i}"
        payloads[name] = f"KILL-{i}-{uuid.uuid4().hex[:8]}"
        simulator.set_payload(name, payloads[name])
        # Every format with zbar makes each decode slow enough to be caught mid-task.
        camera_upsert(
            name=name,
            url=simulator.url(name),
            interval_s=600,
            timeout_s=5.0,
            engine="zbar",
            formats="qr,code128,code39,ean13,ean8,upca,upce,itf,pdf417",
        )
    Camera.objects.update(next_run_at=time.time() - 1)
    log_before = len(cpu.output())
    assert camera_dispatch_due().dispatched == 8

    parent = psutil.Process(cpu.proc.pid)
    kills = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and Snapshot.objects.count() < 8:
        for child in parent.children(recursive=True):
            child.send_signal(signal.SIGKILL)
            kills += 1
        time.sleep(0.15)

    assert wait_for(lambda: Snapshot.objects.filter(status="ok").count() == 8, timeout=60)
    time.sleep(2)  # let any redelivered duplicate run
    assert kills > 0
    lost = cpu.output()[log_before:]
    assert "WorkerLostError" in lost or "SIGKILL" in lost, "no task was killed mid-flight"
    assert Snapshot.objects.count() == 8
    for name, text in payloads.items():
        rows = list(Detection.objects.filter(camera__name=name).values_list("text", flat=True))
        assert rows == [text], f"{name}: {rows}"


def test_a_capture_that_expires_in_the_queue_frees_its_camera(celery_workers, simulator):
    from pipeline.tasks import capture

    cam, _ = camera_upsert(name="late-cam", url=simulator.url("late-cam"), interval_s=60, timeout_s=2.0)
    Camera.objects.filter(pk=cam.pk).update(lease_until=time.time() + 100)
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    capture.apply_async(([[cam.pk, time.time() - 30]],), expires=expired)
    assert wait_for(lambda: Camera.objects.get(pk=cam.pk).lease_until is None, timeout=15)
    cam.refresh_from_db()
    assert cam.captures_skipped == 1 and not Snapshot.objects.filter(camera=cam).exists()
