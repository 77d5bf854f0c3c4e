"""A camera's mode: stream by default for RTSP, set by every write path, honoured by dispatch."""

import time
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.models import Camera
from cameras.schedule import cameras_claim_due
from cameras.services import camera_upsert

pytestmark = pytest.mark.django_db


def test_rtsp_cameras_default_to_stream_and_others_to_snapshot():
    rtsp, _ = camera_upsert(name="r", url="rtsp://127.0.0.1:8554/live", interval_s=2.0)
    http, _ = camera_upsert(name="h", url="http://127.0.0.1:81/s.jpg", interval_s=2.0)
    assert (rtsp.mode, http.mode) == ("stream", "snapshot")
    # An explicit choice stays, and an update that does not name the mode keeps it.
    camera_upsert(name="r", url="rtsp://127.0.0.1:8554/live", mode="snapshot")
    camera_upsert(name="r", url="rtsp://127.0.0.1:8554/other")
    assert Camera.objects.get(name="r").mode == "snapshot"


def test_stream_mode_needs_an_rtsp_url():
    with pytest.raises(ValidationError, match="stream mode needs an rtsp"):
        camera_upsert(name="h", url="http://127.0.0.1:81/s.jpg", mode="stream")
    with pytest.raises(ValidationError):
        camera_upsert(name="h", url="rtsp://127.0.0.1/live", mode="burst")


def test_add_camera_and_import_set_the_mode(tmp_path):
    call_command("add_camera", "--name", "a", "--url", "rtsp://127.0.0.1/a", "--mode", "snapshot", stdout=StringIO())
    assert Camera.objects.get(name="a").mode == "snapshot"
    with pytest.raises(CommandError, match="rtsp"):
        call_command("add_camera", "--name", "b", "--url", "http://127.0.0.1/b.jpg", "--mode", "stream")
    csv_file = tmp_path / "cams.csv"
    csv_file.write_text(
        "name,url,interval_s,mode\nc,rtsp://127.0.0.1/c,1,snapshot\nd,rtsp://127.0.0.1/d,1,\ne,rtsp://127.0.0.1/e,1,stream\n"
    )
    call_command("import_cameras", str(csv_file), stdout=StringIO())
    modes = dict(Camera.objects.filter(name__in="cde").values_list("name", "mode"))
    assert modes == {"c": "snapshot", "d": "stream", "e": "stream"}


def test_the_api_shows_the_mode():
    camera_upsert(name="r", url="rtsp://127.0.0.1/live", interval_s=2.0)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=User.objects.create_user('ops')).key}")
    body = api.get("/api/cameras/").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [(c["name"], c["mode"]) for c in rows] == [("r", "stream")]


def test_dispatch_leaves_stream_cameras_to_the_streams_process():
    now = time.time()
    stream, _ = camera_upsert(name="s", url="rtsp://127.0.0.1/s", interval_s=1.0)
    snap, _ = camera_upsert(name="p", url="rtsp://127.0.0.1/p", interval_s=1.0, mode="snapshot")
    Camera.objects.update(next_run_at=now - 0.5)
    claimed, skipped = cameras_claim_due(now=now, horizon=now + 1)
    assert [row[0] for row in claimed] == [snap.pk] and skipped == 0
    assert Camera.objects.get(pk=stream.pk).next_run_at == pytest.approx(now - 0.5)
