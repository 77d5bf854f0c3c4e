"""HTTP snapshot and MJPEG sources against the camera simulator: frames, faults, auth, deadlines."""

import pytest

from cameras.sources import CaptureError
from detections.decoders import decode_bytes
from tests.sources import timed_grab

SLACK_S = 2.0  # a capture may overrun its timeout by this much, never more


def test_snapshot_is_the_exact_jpeg_the_camera_sent(simulator):
    before, shown_before = simulator.snapshot("sim-01")
    frame, _ = timed_grab(simulator.url("sim-01"))
    after, shown = simulator.snapshot("sim-01")
    assert frame.data.startswith(b"\xff\xd8\xff\xfe") and frame.data.endswith(b"\xff\xd9")  # as sent, whole
    found = [c.text for c in decode_bytes(frame.data, formats=["qr"]).codes]
    assert found in ([shown_before], [shown])  # the picture may have moved on between the calls
    assert (frame.kind, frame.width, frame.height) == ("jpeg", 1280, 720)
    assert [c.text for c in decode_bytes(frame.data, formats=["qr"]).codes]


def test_exact_payload_round_trip(simulator):
    simulator.set_payload("dock-7", "PARCEL-dock-7-000123")
    frame, _ = timed_grab(simulator.url("dock-7"))
    assert [c.text for c in decode_bytes(frame.data, formats=["qr"]).codes] == ["PARCEL-dock-7-000123"]


def test_mjpeg_gives_one_whole_frame(simulator):
    simulator.set_payload("stream", "MJPEG-ONE")
    frame, took = timed_grab(simulator.url("stream", "mjpg"))
    assert (frame.kind, frame.width, frame.height) == ("jpeg", 1280, 720)
    assert frame.data.startswith(b"\xff\xd8") and frame.data.endswith(b"\xff\xd9")
    assert [c.text for c in decode_bytes(frame.data, formats=["qr"]).codes] == ["MJPEG-ONE"]
    assert took < 2.0


@pytest.mark.parametrize(
    ("mode", "kinds", "timeout_s"),
    [
        ("hang", {"timeout"}, 1.0),
        ("slow", {"timeout"}, 1.0),
        ("500", {"http_500"}, 2.0),
        ("html", {"not_an_image"}, 2.0),
        ("truncated", {"truncated"}, 2.0),
        ("bomb", {"too_large"}, 2.0),
        ("auth", {"auth_failed"}, 2.0),
        ("digest", {"auth_failed"}, 2.0),
        ("empty", {"empty"}, 2.0),
    ],
)
def test_fault_gives_its_error_class_within_the_deadline(simulator, mode, kinds, timeout_s):
    error, took = timed_grab(f"{simulator.base_url}/fault/{mode}.jpg", timeout_s)
    assert isinstance(error, CaptureError), error
    assert error.kind in kinds
    assert took < timeout_s + SLACK_S


def test_connection_closed_without_answer_is_a_failure(simulator):
    error, took = timed_grab(f"{simulator.base_url}/fault/close.jpg")
    assert isinstance(error, CaptureError)
    assert error.kind in {"connection", "empty", "truncated"}
    assert took < 2.0 + SLACK_S


def test_unknown_camera_is_http_404(simulator):
    error, _ = timed_grab(simulator.url("nobody"))
    assert isinstance(error, CaptureError) and error.kind == "http_404"


@pytest.mark.parametrize("kind", ["auth", "auth-digest"])
def test_auth_with_the_right_credentials_gives_a_frame(simulator, kind):
    for _ in range(2):  # the second grab reuses the learned scheme (digest) and the connection
        frame, _ = timed_grab(simulator.url("sim-02", kind), username="admin", password="secret")
        assert (frame.kind, frame.width) == ("jpeg", 1280)


@pytest.mark.parametrize(
    "path", ["/fault/auth.jpg", "/fault/digest.jpg", "/auth/sim-01.jpg", "/auth-digest/sim-01.jpg"]
)
def test_wrong_password_is_auth_failed_and_never_echoed(simulator, path):
    password = "hunter2-Sekr3t"
    error, _ = timed_grab(simulator.base_url + path, username="admin", password=password)
    assert isinstance(error, CaptureError) and error.kind == "auth_failed"
    assert password not in str(error) and password not in error.detail and password not in repr(error)


def test_fault_auth_serves_a_frame_with_the_right_credentials(simulator):
    for mode in ("auth", "digest"):
        frame, _ = timed_grab(f"{simulator.base_url}/fault/{mode}.jpg", username="admin", password="secret")
        assert frame.kind == "jpeg"


def test_silent_server_times_out_within_the_deadline(silent_tcp_server):
    error, took = timed_grab(f"http://127.0.0.1:{silent_tcp_server.port}/snap.jpg", 1.0)
    assert isinstance(error, CaptureError) and error.kind == "timeout"
    assert took < 1.0 + SLACK_S


def test_refused_port_is_refused_at_once(refused_port):
    error, took = timed_grab(f"http://127.0.0.1:{refused_port}/snap.jpg", 2.0)
    assert isinstance(error, CaptureError) and error.kind == "refused"
    assert took < 1.0
