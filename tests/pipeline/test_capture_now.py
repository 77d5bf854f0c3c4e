"""`manage.py capture` end to end on file:// cameras: region of interest and downscaling per camera."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from cameras.models import Camera, Snapshot
from cameras.services import camera_upsert
from detections.models import Detection
from devtools import framegen

pytestmark = pytest.mark.django_db


@pytest.fixture
def file_root(tmp_path, settings):
    settings.CAMTRACK_FILE_ROOT = tmp_path
    (tmp_path / "two.jpg").write_bytes(framegen.multi_frame(["LEFT-1", "RIGHT-2"], module_px=6))
    return tmp_path


def _capture(name: str) -> dict:
    out = StringIO()
    call_command("capture", name, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_capture_records_like_a_scheduled_snapshot(file_root):
    camera_upsert(name="shelf", url=f"file://{file_root}/two.jpg")
    report = _capture("shelf")
    assert report["ok"] and sorted(d["text"] for d in report["detections"]) == ["LEFT-1", "RIGHT-2"]
    assert Snapshot.objects.get().status == "ok" and Detection.objects.count() == 2
    assert Camera.objects.get().status == "online"


def test_region_of_interest_limits_decoding_and_keeps_full_frame_positions(file_root):
    camera_upsert(name="left", url=f"file://{file_root}/two.jpg", roi="0,0,640,720")
    report = _capture("left")
    assert [d["text"] for d in report["detections"]] == ["LEFT-1"]
    xs = [x for x, _ in report["detections"][0]["position"]]
    assert max(xs) < 640


def test_downscaled_decoding_reports_full_frame_positions(file_root):
    camera_upsert(name="big", url=f"file://{file_root}/two.jpg", downscale=2)
    report = _capture("big")
    found = {d["text"]: d["position"] for d in report["detections"]}
    assert set(found) == {"LEFT-1", "RIGHT-2"}
    assert max(x for x, _ in found["RIGHT-2"]) > 640  # the right code stays on the right of the full frame


def test_region_outside_the_frame_is_a_clear_error(file_root):
    camera_upsert(name="off", url=f"file://{file_root}/two.jpg", roi="5000,5000,10,10")
    report = _capture("off")
    assert not report["ok"] and "bad_roi" in report["error"]
    assert Snapshot.objects.get().error == "bad_roi"
