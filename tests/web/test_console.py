"""The console's pages and data endpoints through Django's test client (the browser tests are in
test_console_browser.py): who may see them, what they embed, the latest frame kept per camera."""

import datetime as dt
import json
import re

import pytest
from django.contrib.auth.models import Group, User

from cameras.latest import frame_store, latest_key, latest_meta_key
from cameras.models import Camera, Zone
from devtools.framegen import qr_frame
from pipeline import framestore
from pipeline.decode import snapshots_decode
from pipeline.messages import FrameReady
from tests.factories import CameraFactory
from tracking.models import Sighting

pytestmark = pytest.mark.django_db

PAGES = ["/", "/journey/?code=X", "/counts/", "/alerts/", "/cameras/dock-1/"]


def user_with_role(name: str, role: str | None) -> User:
    user = User.objects.create_user(name, password="console-pw-123")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(client):
    client.force_login(user_with_role("viewer", "viewer"))
    return client


@pytest.mark.parametrize("path", PAGES + ["/api/board/", "/cameras/dock-1/latest.json"])
def test_a_user_without_a_role_sees_nothing(client, path):
    CameraFactory(name="dock-1")
    client.force_login(user_with_role("nobody", None))
    assert client.get(path).status_code == 403


def test_who_may_acknowledge_is_told_to_the_page(client):
    client.force_login(user_with_role("watcher", "viewer"))
    stream = stream_data(client.get("/alerts/"))
    assert stream["can_acknowledge"] is False
    client.force_login(user_with_role("shift-lead", "operator"))
    assert stream_data(client.get("/alerts/"))["can_acknowledge"] is True


def _embedded(response, element_id: str) -> dict:
    pattern = rf'<script id="{element_id}" type="application/json">(.*?)</script>'
    match = re.search(pattern, response.content.decode(), re.S)
    assert match, f"the page embeds {element_id}"
    return json.loads(match.group(1))


def page_data(response) -> dict:
    return _embedded(response, "page-data")


def stream_data(response) -> dict:
    return _embedded(response, "stream-data")


@pytest.mark.parametrize("path", PAGES + ["/cameras/dock-1/latest.jpg", "/cameras/dock-1/latest.json", "/api/board/"])
def test_every_console_page_needs_login(client, path):
    CameraFactory(name="dock-1")
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("path", PAGES)
def test_pages_allow_nothing_from_elsewhere(viewer, path):
    CameraFactory(name="dock-1")
    response = viewer.get(path)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "img-src 'self'"):
        assert directive in csp
    assert "http" not in csp and "unsafe-inline" not in csp
    # No script or style text inline (the CSP would refuse it), and no address outside the project.
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*(src=|application/json))[^>]*>", html)
    assert not re.search(r"<style|style=", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_overview_embeds_every_camera_and_the_summary(viewer):
    zone = Zone.objects.create(name="dock")
    for i in range(250):
        CameraFactory(name=f"cam-{i:03d}", zone=zone if i % 2 else None, status="offline" if i < 3 else "online")
    data = page_data(viewer.get("/"))
    assert len(data["cameras"]) == 250
    assert data["summary"]["offline"] == 3 and data["summary"]["online"] == 247
    assert data["zones"] == ["dock"]
    first = data["cameras"][1]
    assert first["name"] == "cam-001" and first["zone"] == "dock"
    assert "password" not in json.dumps(data) and "username" not in json.dumps(data)
    assert viewer.get("/api/board/").json()["summary"] == data["summary"]


def test_journey_page_embeds_the_visits_in_order(viewer):
    a, b = CameraFactory(name="in-1"), CameraFactory(name="out-1")
    t0 = dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)
    for camera, minute in ((b, 5), (a, 0)):
        at = t0 + dt.timedelta(minutes=minute)
        Sighting.objects.create(
            camera=camera,
            text="PARCEL-1",
            format="qr",
            first_seen=at,
            last_seen=at + dt.timedelta(seconds=9),
            ended_at=at + dt.timedelta(seconds=12),
            frames=4,
        )
    data = page_data(viewer.get("/journey/", {"code": "PARCEL-1"}))
    assert [s["camera"] for s in data["sightings"]] == ["in-1", "out-1"]
    assert data["last_seen"]["camera"] == "out-1"
    assert page_data(viewer.get("/journey/", {"code": "NOPE"}))["sightings"] == []


def _decode_one(camera: Camera, data: bytes, slot: float) -> None:
    key = framestore.frame_key(camera.pk, slot)
    framestore.frames_put({key: data})
    frame = FrameReady(
        camera_id=camera.pk, slot=slot, captured_ts=slot + 0.1, capture_ms=20.0, nbytes=len(data), formats="qr"
    )
    snapshots_decode(frames=[frame])


def test_the_latest_decoded_frame_is_kept_in_redis_and_served_with_its_codes(viewer, settings):
    camera = CameraFactory(name="dock-1")
    store = frame_store()
    store.delete(latest_key(camera.pk), latest_meta_key(camera.pk))
    assert viewer.get("/cameras/dock-1/latest.json").json() == {"available": False}
    assert viewer.get("/cameras/dock-1/latest.jpg").status_code == 404

    older, newer = qr_frame("OLD-1", seed=1), qr_frame("NEW-2", seed=2)
    slot = dt.datetime.now(dt.UTC).timestamp()
    _decode_one(camera, newer, slot)
    # A batch of an older slot that finishes later (another worker) does not replace the newer frame.
    _decode_one(camera, older, slot - 10)
    jpg = viewer.get("/cameras/dock-1/latest.jpg")
    assert jpg.status_code == 200 and jpg["Content-Type"] == "image/jpeg"
    assert bytes(jpg.content) == newer
    meta = viewer.get("/cameras/dock-1/latest.json").json()
    assert meta["available"] and meta["width"] == 1280 and meta["height"] == 720
    assert [c["text"] for c in meta["codes"]] == ["NEW-2"]
    assert len(meta["codes"][0]["position"]) == 4
    # Neither frame is left under its frame key: the newer was renamed, the older dropped.
    assert not store.exists(framestore.frame_key(camera.pk, slot), framestore.frame_key(camera.pk, slot - 10))
    assert 0 < store.ttl(latest_key(camera.pk)) <= settings.CAMTRACK_LATEST_FRAME_TTL_S
    _decode_one(camera, qr_frame("NEWER-3", seed=3), slot + 5)
    assert [c["text"] for c in viewer.get("/cameras/dock-1/latest.json").json()["codes"]] == ["NEWER-3"]


def test_no_latest_frame_is_kept_when_its_ttl_is_zero(viewer, settings):
    settings.CAMTRACK_LATEST_FRAME_TTL_S = 0
    camera = CameraFactory(name="dock-2")
    frame_store().delete(latest_key(camera.pk))
    slot = dt.datetime.now(dt.UTC).timestamp()
    _decode_one(camera, qr_frame("X-1"), slot)
    assert not frame_store().exists(latest_key(camera.pk))
    assert not frame_store().exists(framestore.frame_key(camera.pk, slot))
    assert viewer.get("/cameras/dock-2/latest.json").json() == {"available": False}
