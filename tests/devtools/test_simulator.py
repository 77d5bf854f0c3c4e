"""The camera simulator: payloads, frames, streams, auth, and that it runs without Django."""

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from detections.decoders import decode_bytes
from devtools.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]


def texts(data: bytes) -> list[str]:
    return [code.text for code in decode_bytes(data, formats=["qr"]).codes]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked() -> tuple[Simulator, Clock]:
    clock = Clock(1_000_000.0)
    sim = Simulator(cameras=["dock-a", "dock-b"], clock=clock, payload_period_s=5.0).start()
    yield sim, clock
    sim.stop()


def test_snapshot_shows_the_expected_payload(clocked):
    sim, clock = clocked
    with requests.Session() as http:
        for name in sim.names:
            expected = http.get(sim.url(name, "payload")).text
            resp = http.get(sim.url(name))
            assert resp.status_code == 200
            assert resp.headers["Content-Type"] == "image/jpeg"
            assert expected == f"PARCEL-{name}-200000"
            assert texts(resp.content) == [expected]


def test_payload_changes_with_time_and_frames_are_cached(clocked):
    sim, clock = clocked
    first, shown = sim.snapshot("dock-a")
    second, shown_again = sim.snapshot("dock-a")
    # The same moment shows the same code, in a frame of its own: never the same bytes twice.
    assert shown_again == shown and texts(second) == [shown] and second != first
    frames = {first, second} | {sim.snapshot("dock-a")[0] for _ in range(3 * sim.noise_variants)}
    assert len(frames) == 2 + 3 * sim.noise_variants
    # Each noisy picture is encoded once; later frames are copies with their own comment.
    renders = sim.renders
    sim.snapshot("dock-a")
    assert renders == sim.noise_variants and sim.renders == renders
    clock.now += 5.0
    later, later_shown = sim.snapshot("dock-a")
    assert later_shown != shown
    assert texts(later) == [later_shown]


def test_empty_ratio_gives_frames_without_codes():
    sim = Simulator(cameras=["bare"], empty_ratio=1.0).start()
    try:
        resp = requests.get(sim.url("bare", "payload"), timeout=5)
        assert (resp.text, resp.headers["X-Sim-Empty"]) == ("", "1")
        assert texts(requests.get(sim.url("bare"), timeout=5).content) == []
    finally:
        sim.stop()


def test_set_payload_and_text_override_are_exact(simulator):
    payload = "UNIQUE-äöü-\r\n-42"
    simulator.set_payload("exact", payload)
    with requests.Session() as http:
        assert http.get(simulator.url("exact", "payload")).text == payload
        assert texts(http.get(simulator.url("exact")).content) == [payload]
        override = http.get(simulator.url("sim-01"), params={"text": "FROM-QUERY"})
        assert texts(override.content) == ["FROM-QUERY"]


def test_unknown_camera_is_404(simulator):
    assert requests.get(simulator.url("nobody"), timeout=5).status_code == 404
    assert requests.get(f"{simulator.base_url}/nothing/here", timeout=5).status_code == 404


def test_mjpeg_stream_sends_multipart_jpegs(simulator):
    simulator.set_payload("sim-01", "STREAMED")
    with requests.get(simulator.url("sim-01", "mjpg"), stream=True, timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("multipart/x-mixed-replace; boundary=")
        buf = b""
        for chunk in resp.iter_content(65536):
            buf += chunk
            if buf.count(b"\xff\xd9") >= 2:
                break
    first = buf[buf.index(b"\xff\xd8") : buf.index(b"\xff\xd9") + 2]
    assert texts(first) == ["STREAMED"]


def test_basic_and_digest_auth(simulator):
    good, bad = ("admin", "secret"), ("admin", "nope")
    basic = simulator.url("sim-01", "auth")
    digest = simulator.url("sim-01", "auth-digest")
    challenge = requests.get(basic, timeout=5)
    assert challenge.status_code == 401 and challenge.headers["WWW-Authenticate"].startswith("Basic ")
    assert requests.get(basic, auth=HTTPBasicAuth(*good), timeout=5).status_code == 200
    assert requests.get(basic, auth=HTTPBasicAuth(*bad), timeout=5).status_code == 401
    assert requests.get(digest, auth=HTTPBasicAuth(*good), timeout=5).status_code == 401
    assert requests.get(digest, auth=HTTPDigestAuth(*good), timeout=5).status_code == 200
    assert requests.get(digest, auth=HTTPDigestAuth(*bad), timeout=5).status_code == 401


def test_many_concurrent_snapshots_are_cheap(simulator):
    def fetch(i: int) -> int:
        with requests.Session() as http:
            return sum(len(http.get(simulator.url(f"sim-0{1 + i % 3}")).content) > 0 for _ in range(25))

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(fetch, range(8))) == 200
    assert time.perf_counter() - start < 5.0


def test_stop_releases_a_hanging_client(simulator):
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(requests.get, f"{simulator.base_url}/fault/hang.jpg", timeout=10)
        time.sleep(0.2)
        simulator.stop()
        with pytest.raises(requests.ConnectionError):
            pending.result()
    assert time.monotonic() - started < 5


def test_runs_without_django_from_the_command_line():
    code = "import sys, devtools.simulator; assert 'django' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=30)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.simulator", "--port", "0", "--cameras", "2", "--prefix", "cli"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        header = proc.stdout.readline()
        url = proc.stdout.readline().split()[1]
        assert "camera simulator on http://127.0.0.1:" in header
        assert url.endswith("/cam/cli-01.jpg")
        assert requests.get(url, timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(5)
