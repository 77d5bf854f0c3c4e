"""Camera credentials never leak: a unique password is searched for in every place an operator,
a log reader or Flower could see, with real workers capturing from cameras that use it."""

import io
import json
import logging
import secrets
import time
import traceback
from urllib.parse import quote

import pytest
from celery.signals import before_task_publish
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from cameras.models import Camera, CameraEvent, Snapshot
from cameras.services import camera_upsert
from cameras.sources import CaptureError, SourceConfig, grab
from devtools.net import free_port
from devtools.simulator import Simulator
from pipeline.capture import snapshots_capture
from pipeline.dispatch import camera_dispatch_due
from pipeline.messages import CaptureSlot
from tests.test_pipeline import wait_for
from tests.workers import purge_queues

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published():
    """Every task message this process publishes: headers (argsrepr is what Flower shows) and body."""
    messages: list[str] = []

    def record(body=None, headers=None, **_kwargs) -> None:
        messages.append(json.dumps({"headers": headers, "body": body}, default=repr))

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


def _leaks(texts: dict[str, str], values: list[str]) -> list[str]:
    return [f"{value[:6]}… in {where}" for where, text in texts.items() for value in values if value in text]


def test_password_appears_nowhere(celery_workers, published, caplog):
    caplog.set_level(logging.DEBUG)
    purge_queues()
    password, wrong = f"pw-{secrets.token_urlsafe(16)}", f"wrong-{secrets.token_urlsafe(16)}"
    values = [password, wrong, quote(password, safe=""), quote(wrong, safe="")]
    sim = Simulator(port=0, cameras=["sec-good", "sec-bad"], username="operator", password=password).start()
    io_log_start = len(celery_workers["io"].output())
    cpu_log_start = len(celery_workers["cpu"].output())
    try:
        common = {"interval_s": 1.0, "timeout_s": 2.0}
        camera_upsert(
            name="sec-good", url=sim.url("sec-good", "auth"), username="operator", password=password, **common
        )
        camera_upsert(name="sec-bad", url=sim.url("sec-bad", "auth"), username="operator", password=wrong, **common)
        camera_upsert(
            name="sec-digest", url=sim.url("sec-bad", "auth-digest"), username="operator", password=wrong, **common
        )
        # Typed into the URL: split out on save, so neither the URL field nor any page shows it.
        camera_upsert(
            name="sec-inurl", url=sim.url("sec-bad", "auth").replace("://", f"://operator:{wrong}@"), **common
        )
        camera_upsert(
            name="sec-rtsp", url=f"rtsp://operator:{wrong}@127.0.0.1:{free_port()}/live", mode="snapshot", **common
        )
        failing = ["sec-bad", "sec-digest", "sec-inurl", "sec-rtsp"]
        assert Camera.objects.get(name="sec-inurl").password == wrong

        def settled() -> bool:
            good = Snapshot.objects.filter(camera__name="sec-good", status="ok").count() >= 2
            down = Camera.objects.filter(name__in=failing, status="offline").count() == len(failing)
            return good and down

        assert wait_for(settled, timeout=30, every=0.3, tick=camera_dispatch_due), list(
            Camera.objects.values("name", "status", "last_error")
        )
        # The io service in this process too, so the decode message it publishes is recorded here.
        snapshots_capture(slots=[CaptureSlot(Camera.objects.get(name="sec-good").pk, round(time.time() + 1000, 6))])
        assert any("analytics.tasks.decode" in m for m in published)
        assert any("cameras.tasks.capture" in m for m in published)

        texts: dict[str, str] = {f"task message {i}": m for i, m in enumerate(published)}
        for name in ["sec-good", *failing]:
            out = io.StringIO()
            call_command("capture", name, "--json", stdout=out, stderr=out)
            texts[f"manage.py capture {name}"] = out.getvalue()
            camera = Camera.objects.get(name=name)
            try:
                grab(SourceConfig(url=camera.url, username=camera.username, password=camera.password, timeout_s=2))
            except CaptureError as exc:
                texts[f"exception {name}"] = f"{exc!s} {exc!r} {exc.detail} {traceback.format_exc()}"
            texts[f"config repr {name}"] = repr(SourceConfig(url=camera.url, password=camera.password))
        assert "auth_failed" in texts["manage.py capture sec-bad"]

        admin = User.objects.create_superuser("root", password="root-pw")
        web = Client()
        web.force_login(admin)
        api = APIClient()
        api.force_authenticate(admin)
        pages = [
            "/",
            "/?partial=1",
            "/admin/cameras/camera/",
            "/admin/cameras/cameraevent/",
            "/admin/cameras/snapshot/",
            "/admin/cameras/camera/add/",
        ]
        for camera in Camera.objects.all():
            pages += [f"/admin/cameras/camera/{camera.pk}/change/"]
        for path in pages:
            resp = web.get(path)
            assert resp.status_code == 200, path
            texts[f"page {path}"] = resp.content.decode()
        for path in [
            "/api/cameras/",
            *(f"/api/cameras/{n}/" for n in failing),
            "/api/cameras/sec-bad/events/",
            "/api/detections/",
        ]:
            resp = api.get(path)
            assert resp.status_code == 200, path
            texts[f"api {path}"] = resp.content.decode()
        assert "sec-rtsp" in texts["api /api/cameras/"]

        texts["Camera.last_error"] = "\n".join(Camera.objects.values_list("last_error", flat=True))
        texts["Camera.url"] = "\n".join(Camera.objects.values_list("url", flat=True))
        errors = Snapshot.objects.values_list("error", "error_detail")
        texts["Snapshot.error"] = "\n".join(f"{e} {d}" for e, d in errors)
        texts["CameraEvent.reason"] = "\n".join(CameraEvent.objects.values_list("reason", flat=True))
        assert CameraEvent.objects.filter(camera__name="sec-bad", status="offline").exists()
        texts["io worker log"] = celery_workers["io"].output()[io_log_start:]
        texts["cpu worker log"] = celery_workers["cpu"].output()[cpu_log_start:]
        texts["test process log"] = caplog.text
        assert "sec-bad" in texts["io worker log"]  # the log really is the workers' and covers these cameras

        assert _leaks(texts, values) == []
        # The search is not vacuous: the password does sit in the database, where it must.
        assert Camera.objects.filter(password=password).exists()
    finally:
        Camera.objects.update(enabled=False)
        sim.stop()
        purge_queues()
