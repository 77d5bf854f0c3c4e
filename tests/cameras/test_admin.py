"""A camera added through the admin, add_camera or import_cameras is captured within its first interval."""

import time
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.core.management import call_command

from cameras.models import Camera, Snapshot
from pipeline.dispatch import camera_dispatch_due
from tests.test_pipeline import wait_for
from tests.workers import purge_queues

pytestmark = pytest.mark.django_db(transaction=True)

ADD_URL = "/admin/cameras/camera/add/"
CHANGELIST_URL = "/admin/cameras/camera/"
INTERVAL_S = 1.0
# From the moment a camera is added: its first due time falls within its interval, and dispatch,
# the io worker and the cpu worker have this much more to store its first good snapshot.
SLACK_S = 2.0


class FormFields(HTMLParser):
    """The fields a browser would submit from one form of a page: names and their initial values."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.in_form = False
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.in_form = a.get("id") == self.form_id
        if not self.in_form or not a.get("name") or "__prefix__" in a["name"]:
            if tag == "option" and self._select is not None:
                self._option(a)
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text")
            if kind == "submit":
                if name == "_save":
                    self.fields[name] = a.get("value", "")
            elif kind == "checkbox":
                if "checked" in a:
                    self.fields[name] = a.get("value") or "on"
            else:
                self.fields[name] = a.get("value", "")
        elif tag == "textarea":
            self.fields[name] = ""
        elif tag == "select":
            self._select, self._first_option = name, None

    def _option(self, a: dict[str, str]) -> None:
        if self._first_option is None:
            self._first_option = a.get("value", "")
            self.fields.setdefault(self._select, self._first_option)
        if "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "form":
            self.in_form = False


def add_form_fields(client) -> dict[str, str]:
    response = client.get(ADD_URL)
    assert response.status_code == 200
    parser = FormFields("camera_form")
    parser.feed(response.content.decode())
    return parser.fields


@pytest.fixture(autouse=True)
def _clean_queues():
    purge_queues()
    yield
    purge_queues()


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def assert_captured_in_time(name: str, started: float) -> Camera:
    """The camera has a schedule and a good snapshot within its interval plus SLACK_S of `started`."""
    camera = Camera.objects.get(name=name)
    assert camera.next_run_at is not None
    assert camera.next_run_at <= time.time() + camera.interval_s
    budget = camera.interval_s + SLACK_S

    def captured() -> bool:
        return Snapshot.objects.filter(camera=camera, status=Snapshot.Status.OK).exists()

    ok = wait_for(captured, timeout=max(started + budget - time.monotonic(), 0), every=0.3, tick=camera_dispatch_due)
    elapsed = time.monotonic() - started
    camera.refresh_from_db()
    snapshots = list(Snapshot.objects.filter(camera=camera).values("status", "error", "error_detail"))
    assert ok, (f"no good snapshot after {elapsed:.1f}s", camera.status, camera.last_error, snapshots)
    assert elapsed <= budget, f"first good snapshot after {elapsed:.1f}s, budget {budget:.1f}s"
    return camera


def test_camera_added_through_the_admin_add_form_is_captured(celery_workers, simulator, admin):
    fields = add_form_fields(admin)
    # The page's own inline formset: nothing to add, but its management form must be submitted.
    assert fields["events-TOTAL_FORMS"] == "0"
    assert {"events-INITIAL_FORMS", "events-MIN_NUM_FORMS", "events-MAX_NUM_FORMS"} <= set(fields)
    expected = {
        "name",
        "url",
        "username",
        "password",
        "enabled",
        "interval_s",
        "timeout_s",
        "formats",
        "engine",
        "transport",
        "roi",
        "downscale",
    }
    assert expected <= set(fields), expected - set(fields)
    fields.update(
        name="dock-admin",
        url=simulator.url("sim-01"),
        interval_s=str(INTERVAL_S),
        timeout_s="3",
        formats="qr",
        engine="",
    )
    started = time.monotonic()
    response = admin.post(ADD_URL, fields)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert response["Location"] == CHANGELIST_URL
    camera = assert_captured_in_time("dock-admin", started)
    assert (camera.url, camera.interval_s, camera.enabled) == (simulator.url("sim-01"), INTERVAL_S, True)


def test_camera_added_with_add_camera_is_captured(celery_workers, simulator):
    started = time.monotonic()
    call_command(
        "add_camera",
        "--name",
        "dock-command",
        "--url",
        simulator.url("sim-02"),
        "--interval",
        str(INTERVAL_S),
        "--timeout",
        "3",
        stdout=StringIO(),
    )
    assert_captured_in_time("dock-command", started)


def test_camera_imported_from_csv_is_captured(celery_workers, simulator, tmp_path):
    csv_file = tmp_path / "cameras.csv"
    csv_file.write_text(f"name,url,interval_s,timeout_s\ndock-csv,{simulator.url('sim-03')},{INTERVAL_S},3\n")
    started = time.monotonic()
    out = StringIO()
    call_command("import_cameras", str(csv_file), stdout=out, stderr=StringIO())
    assert "1 created, 0 updated, 0 rejected" in out.getvalue()
    assert_captured_in_time("dock-csv", started)


def test_admin_add_form_refuses_an_unknown_engine(admin):
    fields = add_form_fields(admin)
    fields.update(name="dock-ocr", url="http://127.0.0.1:9/cam.jpg", engine="tesseract")
    response = admin.post(ADD_URL, fields)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["engine"]
    assert "engine must be one of" in errors["engine"][0]
    assert not Camera.objects.exists()


def test_admin_disable_action_disables_the_selected_cameras_and_drops_their_leases(admin, camera_factory):
    lease = time.time() + 60
    chosen = [camera_factory(), camera_factory()]
    other = camera_factory()
    Camera.objects.update(lease_until=lease)
    response = admin.post(
        CHANGELIST_URL,
        {"action": "disable", "index": "0", "_selected_action": [str(c.pk) for c in chosen]},
    )
    assert response.status_code == 302
    for camera in chosen:
        camera.refresh_from_db()
        assert (camera.enabled, camera.lease_until) == (False, None)
    other.refresh_from_db()
    assert (other.enabled, other.lease_until) == (True, lease)
    messages = [str(m) for m in admin.get(response["Location"]).context["messages"]]
    assert "2 cameras disabled." in messages
