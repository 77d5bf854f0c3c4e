"""The change gate is set per camera wherever cameras are written: the command, the CSV import, the API."""

import io

import pytest
from django.core.management import call_command

from cameras.models import Camera

pytestmark = pytest.mark.django_db


def test_add_camera_and_import_set_the_gate(tmp_path):
    call_command("add_camera", "--name", "conveyor-1", "--url", "http://127.0.0.1:9/a.jpg", "--no-gate")
    call_command("add_camera", "--name", "dock-1", "--url", "http://127.0.0.1:9/b.jpg")
    assert Camera.objects.get(name="conveyor-1").change_gate is False
    assert Camera.objects.get(name="dock-1").change_gate is True
    csv = tmp_path / "cams.csv"
    csv.write_text(
        "name,url,interval_s,change_gate\n"
        "dock-1,http://127.0.0.1:9/b.jpg,2,no\n"
        "conveyor-1,http://127.0.0.1:9/a.jpg,2,\n"  # blank keeps what it was
    )
    call_command("import_cameras", str(csv))
    assert Camera.objects.get(name="dock-1").change_gate is False
    assert Camera.objects.get(name="conveyor-1").change_gate is False
    csv.write_text("name,url,interval_s,change_gate\ndock-1,http://127.0.0.1:9/b.jpg,2,maybe\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_cameras", str(csv), stdout=out, stderr=err)
    assert "1 rejected" in out.getvalue() and "change_gate must be true or false" in err.getvalue()
    assert Camera.objects.get(name="dock-1").change_gate is False


def test_the_api_shows_the_gate(admin_client):
    call_command("add_camera", "--name", "dock-2", "--url", "http://127.0.0.1:9/c.jpg", "--no-gate")
    assert admin_client.get("/api/cameras/dock-2/").json()["change_gate"] is False
