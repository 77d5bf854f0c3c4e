"""Pytest fixtures that start real servers on 127.0.0.1 and stop them. Load as a plugin:
``pytest_plugins = ["tests.servers.fixtures"]``."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.net import SilentListener, free_port
from devtools.rtsp import RtspServer, gstreamer_available, start_rtsp_server, x265_available
from devtools.simulator import Simulator

__all__ = ["RtspServer", "gstreamer_available", "start_rtsp_server", "x265_available"]


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="session")
def rtsp_server() -> Iterator[Callable[..., RtspServer]]:
    """Factory: ``rtsp_server({"name": png_path}, h265=..., auth={"name": (user, pw)}, stall=..., clips=...)``.

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
        server.stop()


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
