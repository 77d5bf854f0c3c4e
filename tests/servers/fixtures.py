"""Pytest fixtures that start real servers on 127.0.0.1 and stop them. Load as a plugin:
``pytest_plugins = ["tests.servers.fixtures"]``."""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.net import SilentListener, free_port
from devtools.simulator import Simulator

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with gi; the venv has none
RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")
READY_TIMEOUT_S = 15.0


@functools.cache
def gstreamer_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    if not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0


@functools.cache
def x265_available() -> bool:
    tool = shutil.which("gst-inspect-1.0")
    if tool is None:
        return False
    return subprocess.run([tool, "--exists", "x265enc"], timeout=30, capture_output=True).returncode == 0


@dataclass
class RtspServer:
    base_url: str
    process: subprocess.Popen

    def url(self, mount: str) -> str:
        return f"{self.base_url}/{mount}"

    def __str__(self) -> str:
        return self.base_url


def start_rtsp_server(
    mounts: dict[str, Path] | None = None,
    *,
    h265: dict[str, Path] | None = None,
    auth: dict[str, tuple[str, str]] | None = None,
    stall: dict[str, Path] | None = None,
) -> RtspServer:
    """Start tests/servers/rtsp_server.py on a free port and wait for READY."""
    port = free_port()
    cmd = [SYSTEM_PYTHON, str(RTSP_SERVER), "--port", str(port)]
    for flag, items in (("--mount", mounts), ("--h265-mount", h265), ("--stall-mount", stall)):
        for name, path in (items or {}).items():
            cmd += [flag, f"{name}={path}"]
    for name, (user, password) in (auth or {}).items():
        cmd += ["--auth-mount", f"{name}:{user}:{password}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # readline blocks; a timer kills a server that never gets ready so the test fails instead of hanging.
    timer = threading.Timer(READY_TIMEOUT_S, proc.kill)
    timer.start()
    try:
        line = proc.stdout.readline().strip()
    finally:
        timer.cancel()
    if line != "READY":
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise RuntimeError(f"RTSP server did not start: {line!r} {err[-2000:]}")
    return RtspServer(base_url=f"rtsp://127.0.0.1:{port}", process=proc)


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="session")
def rtsp_server() -> Iterator[Callable[..., RtspServer]]:
    """Factory: ``rtsp_server({"name": png_path}, h265=..., auth={"name": (user, pw)}, stall=...)``.

    Session-scoped because a server costs ~0.5 s to start; every server started is stopped at the end.
    Skips the test when GStreamer's RTSP server is not installed.
    """
    started: list[RtspServer] = []

    def start(mounts: dict[str, Path] | None = None, **kwargs: object) -> RtspServer:
        if not gstreamer_available():
            pytest.skip("GStreamer RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) is not installed")
        server = start_rtsp_server(mounts, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_process(server.process)


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A camera simulator on a free port with three cameras (sim-01..sim-03) and admin/secret auth."""
    sim = Simulator(port=0, cameras=3, username="admin", password="secret").start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def silent_tcp_server() -> Iterator[SilentListener]:
    server = SilentListener()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def refused_port() -> int:
    """A port nothing listens on (it was free a moment ago; nothing here binds ports at random)."""
    return free_port()
