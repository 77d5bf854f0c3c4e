"""Journeys end to end: parcels cross simulated cameras, real beat, io and cpu processes track them."""

import datetime as dt
import os
import random
import signal
import threading
import time
import uuid

import psutil
import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.models import Camera
from cameras.services import camera_upsert
from devtools.bench import procs
from devtools.simulator import Simulator
from tests.test_pipeline import wait_for
from tests.workers import purge_queues

pytestmark = pytest.mark.django_db(transaction=True)

CAMERAS, PARCELS, VISITS = 40, 60, 3
IN_VIEW_S, BETWEEN_S, INTERVAL_S = 5.0, 3.0, 1.0
TOLERANCE_S = INTERVAL_S + 0.5


def plan(rng: random.Random, names: list[str]) -> list[tuple[str, list[tuple[str, float]]]]:
    """Parcels with their (camera, arrival offset) visits; a camera shows one parcel at a time.

    Each parcel starts at the earliest half second at which three distinct cameras are free for its
    three legs (1.5 s apart at least, so consecutive parcels at one camera are told apart by their
    codes, not by an empty frame between them).
    """
    busy = dict.fromkeys(names, -10.0)
    step = IN_VIEW_S + BETWEEN_S
    parcels = []
    start = 0.0
    for _ in range(PARCELS):
        while True:
            route: list[str] = []
            for leg in range(VISITS):
                free = [c for c in names if c not in route and busy[c] + 1.5 <= start + leg * step]
                if not free:
                    break
                route.append(rng.choice(free))
            if len(route) == VISITS:
                break
            start += 0.5
        for leg, camera in enumerate(route):
            busy[camera] = start + leg * step + IN_VIEW_S
        code = f"JRNY-{uuid.uuid4().hex[:12]}"
        parcels.append((code, [(camera, start + leg * step) for leg, camera in enumerate(route)]))
    return parcels


def play(sim: Simulator, parcels, t0: float, truth: dict, stop: threading.Event) -> None:
    """Show and hide each parcel's code on its cameras on time, recording when that really happened."""
    events = []
    for code, visits in parcels:
        for camera, offset in visits:
            events.append((t0 + offset, camera, code))
            events.append((t0 + offset + IN_VIEW_S, camera, ""))
    events.sort(key=lambda e: (e[0], e[2] != ""))  # at one instant, hide before show
    for at, camera, code in events:
        while not stop.is_set() and time.time() < at:
            time.sleep(min(0.02, max(0.0, at - time.time())))
        if stop.is_set():
            return
        if code:
            sim.set_payload(camera, code)
            truth[(code, camera)] = [time.time(), None]
        else:
            shown = sim.payload(camera)
            sim.set_payload(camera, "")
            if shown:
                truth[(shown, camera)][1] = time.time()


@pytest.mark.parametrize("kill", [False, True], ids=["steady", "cpu-killed"])
def test_every_parcel_journey_is_exact(celery_workers, tmp_path, kill):
    """Every visit found once, on time, ended on time, counted; also when the cpu pool's processes
    are SIGKILLed mid-run (their tasks come back and must neither lose nor double a frame)."""
    purge_queues()
    names = [f"jr-{i:02d}" for i in range(CAMERAS)]
    sim = Simulator(port=0, cameras=names).start()
    for i, name in enumerate(names):
        sim.set_payload(name, "")
        camera_upsert(name=name, url=sim.url(name), interval_s=INTERVAL_S, timeout_s=INTERVAL_S, zone=f"zone-{i % 8}")
    parcels = plan(random.Random(7), names)
    env = {
        **os.environ,
        "DATABASE_URL": celery_workers["io"].env["DATABASE_URL"],
        "CELERY_BROKER_URL": celery_workers["io"].env["CELERY_BROKER_URL"],
        "CAMTRACK_DATA_DIR": str(tmp_path),
    }
    beat = procs.start("beat", procs.procfile_lines()["beat"], env)
    truth: dict[tuple[str, str], list] = {}
    stop = threading.Event()
    t0 = time.time() + 3.0
    player = threading.Thread(target=play, args=(sim, parcels, t0, truth, stop), daemon=True)
    player.start()
    end = t0 + max(offset for _, visits in parcels for _, offset in visits) + IN_VIEW_S
    try:
        if kill:
            time.sleep(max(0.0, t0 + (end - t0) / 2 - time.time()))
            for child in psutil.Process(celery_workers["cpu"].proc.pid).children(recursive=True):
                child.send_signal(signal.SIGKILL)
        player.join(timeout=end - time.time() + 30)
        gap = Camera.objects.get(name=names[0]).gap_s
        from tracking.models import Sighting

        assert wait_for(
            lambda: not Sighting.objects.filter(text__startswith="JRNY-", ended_at__isnull=True).exists(),
            timeout=gap + 20,
        ), "sightings still open long after their parcels left"
    finally:
        stop.set()
        procs.stop(beat)
        sim.stop()

    token = Token.objects.create(user=User.objects.create_user("journey-viewer", password="pw"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    problems = []
    for code, visits in parcels:
        got = api.get("/api/journey/", {"code": code}).json()["sightings"]
        want = [camera for camera, _ in visits]
        if [s["camera"] for s in got] != want:
            problems.append(f"{code}: cameras {[s['camera'] for s in got]} != {want}")
            continue
        for s in got:
            arrival, departure = truth[(code, s["camera"])]
            first = dt.datetime.fromisoformat(s["first_seen"]).timestamp()
            last = dt.datetime.fromisoformat(s["last_seen"]).timestamp()
            ended = dt.datetime.fromisoformat(s["ended_at"]).timestamp()
            if abs(first - arrival) > TOLERANCE_S or abs(last - departure) > TOLERANCE_S:
                problems.append(f"{code}@{s['camera']}: seen {first - arrival:+.2f}/{last - departure:+.2f} s off")
            if ended - departure > gap + 5:
                problems.append(f"{code}@{s['camera']}: ended {ended - departure:.1f} s after departure")
    if problems:
        from cameras.models import Snapshot

        for cam in Camera.objects.filter(name__in={p.split("@")[1].split(":")[0] for p in problems if "@" in p}):
            rows = Snapshot.objects.filter(camera=cam).order_by("scheduled_at")
            problems.append(
                f"{cam.name}: skipped {cam.captures_skipped}, failed "
                f"{[(r.scheduled_at.timestamp() - t0, r.error) for r in rows if r.status != 'ok']}, "
                f"slots {len(rows)} over {(rows.last().scheduled_at - rows.first().scheduled_at).total_seconds():.0f} s"
            )
    assert not problems, "\n".join(problems[:30])

    since = dt.datetime.fromtimestamp(t0 - 120, tz=dt.UTC).isoformat()
    for name in names:
        rows = api.get("/api/counts/", {"bucket": "minute", "camera": name, "since": since}).json()["results"]
        visits = sum(1 for _, route in parcels for camera, _ in route if camera == name)
        assert sum(r["sightings"] for r in rows) == visits, (name, rows)
