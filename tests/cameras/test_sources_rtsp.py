"""RTSP sources (PyAV) against a real GStreamer RTSP server: frames decode to the exact payload, every
failure ends within the deadline, and the password never leaks into an error."""

import uuid

import cv2
import pytest

from cameras.sources import CaptureError, SourceConfig
from detections.decoders import decode_bytes
from devtools.simulator import _backgrounds, render_frame
from tests.servers.fixtures import x265_available
from tests.sources import timed_grab

SLACK_S = 2.0
USER, PASSWORD = "viewer", "s3cr-et:pw@x"  # characters that must be escaped in a URL
PAYLOADS = {name: f"RTSP-{name}-{uuid.uuid4().hex[:12]}" for name in ("h264", "jpeg", "h265", "locked", "stall")}


def qr_picture(path, text: str) -> str:
    cv2.imwrite(str(path), render_frame(text, scene=_backgrounds()[0][0], step=1))
    return str(path)


@pytest.fixture(scope="module")
def rtsp(rtsp_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rtsp")
    pictures = {name: qr_picture(folder / f"{name}.png", text) for name, text in PAYLOADS.items()}
    pictures["jpeg"] = qr_picture(folder / "jpeg.jpg", PAYLOADS["jpeg"])
    return rtsp_server(
        {name: pictures[name] for name in ("h264", "jpeg", "locked")},
        h265={"h265": pictures["h265"]} if x265_available() else None,
        auth={"locked": (USER, PASSWORD)},
        stall={"stall": pictures["stall"]},
    )


def payloads(data: bytes) -> list[str]:
    return [code.text for code in decode_bytes(data, formats=["qr"]).codes]


@pytest.mark.parametrize("mount", ["h264", "jpeg", "h265"])
def test_stream_frame_decodes_to_the_exact_payload(rtsp, mount):
    if mount == "h265" and not x265_available():
        pytest.skip("x265enc is not installed")
    frame, took = timed_grab(rtsp.url(mount), 5.0)
    assert not isinstance(frame, CaptureError), frame
    assert (frame.kind, frame.width, frame.height) == ("jpeg", 1280, 720)
    assert payloads(frame.data) == [PAYLOADS[mount]]
    assert took < 5.0


def test_udp_transport(rtsp):
    frame, _ = timed_grab(rtsp.url("h264"), 5.0, transport="udp")
    assert not isinstance(frame, CaptureError), frame
    assert payloads(frame.data) == [PAYLOADS["h264"]]


def test_auth_with_the_right_credentials(rtsp):
    frame, _ = timed_grab(rtsp.url("locked"), 5.0, username=USER, password=PASSWORD)
    assert not isinstance(frame, CaptureError), frame
    assert payloads(frame.data) == [PAYLOADS["locked"]]


@pytest.mark.parametrize("password", ["wrong-Pa55word", ""])
def test_wrong_or_missing_credentials_are_auth_failed_and_never_echoed(rtsp, password):
    error, took = timed_grab(rtsp.url("locked"), 3.0, username=USER if password else "", password=password)
    assert isinstance(error, CaptureError) and error.kind == "auth_failed"
    assert took < 3.0 + SLACK_S
    if password:
        assert password not in str(error) and password not in repr(error)


def test_unknown_mount_fails_fast(rtsp):
    error, took = timed_grab(rtsp.url("no-such-mount"), 3.0)
    assert isinstance(error, CaptureError) and error.kind == "http_404"
    assert took < 3.0


def test_stream_that_stalls_after_open_ends_by_the_deadline(rtsp):
    error, took = timed_grab(rtsp.url("stall"), 2.0)
    assert isinstance(error, CaptureError) and error.kind == "timeout"
    assert took < 2.0 + SLACK_S


def test_silent_server_times_out_within_the_deadline(silent_tcp_server):
    error, took = timed_grab(f"rtsp://127.0.0.1:{silent_tcp_server.port}/live", 1.5, username=USER, password=PASSWORD)
    assert isinstance(error, CaptureError) and error.kind == "timeout"
    assert took < 1.5 + SLACK_S
    assert PASSWORD not in str(error)


def test_refused_port_is_refused_at_once(refused_port):
    error, took = timed_grab(f"rtsp://127.0.0.1:{refused_port}/live", 2.0)
    assert isinstance(error, CaptureError) and error.kind == "refused"
    assert took < 2.0


def test_a_port_that_reads_401_is_not_an_auth_failure():
    from cameras.sources.rtsp import classify

    exc = OSError(1094995529, "Invalid data found when processing input", "rtsp://u:pw@127.0.0.1:44013/live")
    assert classify(exc, SourceConfig(url="rtsp://127.0.0.1:44013/live")).kind == "stream"
