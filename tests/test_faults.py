"""Hard capture deadlines whatever the camera does, and a short version of `manage.py faultcheck`."""

import io
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command

from cameras.models import Camera, Snapshot
from cameras.services import camera_upsert
from devtools import faultcheck
from devtools.rtsp import gstreamer_available
from tests.sources import timed_grab
from tests.workers import database_url

SLACK_S = 0.6  # what a capture may take past its timeout


class RawServer:
    """A TCP server answering every connection with ``handler(conn)``: for misbehaviour the simulator lacks."""

    def __init__(self, handler) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.handler = handler
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.recv(4096)
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@pytest.fixture
def raw_server():
    servers = []

    def start(handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _drip_headers(conn: socket.socket, server: RawServer) -> None:
    # Each byte resets a per-read timeout, so only a whole-request deadline stops this.
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not server.stop.wait(0.2):
        conn.sendall(b"X")


def test_headers_dripping_forever_end_at_the_deadline(raw_server):
    server = raw_server(_drip_headers)
    error, took = timed_grab(f"http://127.0.0.1:{server.port}/snap.jpg", 1.0)
    assert error.kind == "timeout"
    assert took < 1.0 + SLACK_S


def test_slow_name_resolution_ends_at_the_deadline(monkeypatch):
    """getaddrinfo ignores socket timeouts; the capture must not wait for it."""
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "slow-dns.invalid":
            time.sleep(5)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    error, took = timed_grab("http://slow-dns.invalid/snap.jpg", 1.0)
    assert error.kind == "timeout" and took < 1.0 + SLACK_S
    # The next capture of that io thread gets a fresh helper and works normally.
    error, took = timed_grab("http://unresolvable.invalid/snap.jpg", 1.0)
    assert error.kind == "dns" and took < 1.0 + SLACK_S


def test_redirect_loop_is_its_own_error_class(raw_server):
    def loop(conn, server) -> None:
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{server.port}/again\r\nConnection: close\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )

    server = raw_server(loop)
    error, took = timed_grab(f"http://127.0.0.1:{server.port}/snap.jpg", 2.0)
    assert error.kind == "redirect_loop" and took < 2.0


def test_redirect_to_a_silent_server_ends_at_the_first_deadline(raw_server, silent_tcp_server):
    def hop(conn, server) -> None:
        time.sleep(0.4)  # every hop costs time; the deadline counts all of them
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{server.port}/again\r\nConnection: close\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )

    server = raw_server(hop)
    error, took = timed_grab(f"http://127.0.0.1:{server.port}/snap.jpg", 1.0)
    assert error.kind == "timeout" and took < 1.0 + SLACK_S
    error, took = timed_grab(f"http://127.0.0.1:{silent_tcp_server.port}/snap.jpg", 1.0)
    assert error.kind == "timeout" and took < 1.0 + SLACK_S


@pytest.mark.django_db
def test_capture_command_on_a_hanging_camera_fails_within_timeout(simulator):
    camera_upsert(name="hang", url=simulator.fault_url("hang"), timeout_s=2.0)
    out = io.StringIO()
    start = time.monotonic()
    call_command("capture", "hang", "--json", stdout=out)
    took = time.monotonic() - start
    result = json.loads(out.getvalue())
    assert result["ok"] is False and result["error"].startswith("timeout")
    assert took < 2.0 + 2.0
    snap = Snapshot.objects.get(camera__name="hang")
    assert snap.error == "timeout"
    assert Camera.objects.get(name="hang").status == "degraded"


@pytest.mark.django_db(transaction=True)
def test_faulty_cameras_do_not_starve_healthy_ones():
    """`manage.py faultcheck` for 15 s: 4 io threads, 6 healthy and 10 faulty cameras, real processes."""
    # A broker database of its own: workers another test left running must not take these tasks.
    current = urlsplit(settings.CELERY_BROKER_URL)
    broker = current._replace(path="/14" if current.path != "/14" else "/15").geturl()
    lines: list[str] = []
    report = faultcheck.run(
        duration_s=15,
        io_threads=4,
        interval_s=1.0,
        timeout_s=2.0,
        prefix="ftest",
        env={"DATABASE_URL": database_url(), "CELERY_BROKER_URL": broker, "CAMTRACK_FRAME_STORE_URL": broker},
        write=lines.append,
    )
    text = faultcheck.format_report(report)
    # Six healthy cameras (one of them an RTSP stream camera) where GStreamer is installed.
    assert len(report.cameras) == (16 if gstreamer_available() else 15), text
    if gstreamer_available():
        stream = next(c for c in report.cameras if c.name == "ftest-ok-rtsp")
        assert stream.passed and stream.detections > 0, text
    assert report.passed, text
    assert report.checked_bytes > 100_000, text  # logs and pages were really searched
