import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cameras.models import Camera

pytestmark = pytest.mark.django_db


def test_add_camera_creates_then_updates_by_name():
    out = StringIO()
    call_command(
        "add_camera",
        "--name",
        "gate",
        "--url",
        "http://u:pw@127.0.0.1:81/s.jpg",
        "--interval",
        "2",
        "--formats",
        "qr,code128",
        stdout=out,
    )
    assert "added camera gate" in out.getvalue() and "pw" not in out.getvalue()
    call_command("add_camera", "--name", "gate", "--url", "http://127.0.0.1:81/t.jpg", stdout=StringIO())
    cam = Camera.objects.get(name="gate")
    assert (cam.url, cam.interval_s, cam.formats, cam.password) == (
        "http://127.0.0.1:81/t.jpg",
        2.0,
        "qr,code128",
        "pw",
    )


def test_add_camera_rejects_garbage_url():
    with pytest.raises(CommandError, match="scheme"):
        call_command("add_camera", "--name", "x", "--url", "gopher://nowhere", stdout=StringIO())


def test_import_cameras_keeps_good_rows_and_reports_bad_ones_by_line(tmp_path):
    Camera.objects.create(name="existing", url="http://127.0.0.1:1/a.jpg", interval_s=5)
    csv_file = tmp_path / "cams.csv"
    csv_file.write_text(
        "name,url,interval_s,timeout_s,username,password,formats,enabled\n"
        "a,http://127.0.0.1:1/a.jpg,1,,,,,\n"
        "b,gopher://x,1,,,,,\n"
        "existing,http://127.0.0.1:1/new.jpg,3,2,user,secret,qr,false\n"
        "c,rtsp://127.0.0.1/live,abc,,,,,\n"
    )
    out, err = StringIO(), StringIO()
    call_command("import_cameras", str(csv_file), stdout=out, stderr=err)
    assert "1 created, 1 updated, 2 rejected" in out.getvalue()
    assert "line 3: b" in err.getvalue() and "line 5: c" in err.getvalue()
    assert "secret" not in out.getvalue() + err.getvalue()
    existing = Camera.objects.get(name="existing")
    assert (existing.url, existing.interval_s, existing.enabled) == ("http://127.0.0.1:1/new.jpg", 3.0, False)
    assert set(Camera.objects.values_list("name", flat=True)) == {"a", "existing"}


@pytest.mark.django_db(transaction=True)
def test_dispatch_due_json_reports_the_round(camera_factory):
    from tests.workers import purge_queues

    purge_queues()
    camera_factory.create_batch(3)
    out = StringIO()
    call_command("dispatch_due", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["dispatched"] == 3 and report["skipped"] == 0 and report["elapsed_ms"] >= 0
    purge_queues()
