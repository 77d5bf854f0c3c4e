"""The console in a real browser: Debian's Chromium (headless, through Selenium and chromedriver)
against the Procfile's web process, with real io/cpu workers and beat where the pipeline matters.

Every test also checks that the browser logged no error and that the page asked nothing of any
other origin. Screenshots go to <CAMTRACK_DATA_DIR>/test-output/screenshots.
"""

import datetime as dt
import os
import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from cameras.models import Zone
from cameras.services import camera_upsert
from devtools import browser
from devtools.bench import procs
from devtools.net import free_port
from devtools.simulator import Simulator
from notify.alerts import alert_clear, alert_raise
from notify.events import events_write
from notify.models import Alert, AlertRule
from tests.factories import CameraFactory
from tests.web.conftest import start_web
from tests.workers import database_url, purge_queues
from tracking.models import CameraMinute, Sighting

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not browser.available(), reason="needs Debian's chromium and chromium-driver (make test)"),
]
SHOTS = settings.DATA_DIR / "test-output" / "screenshots"
USER, PASSWORD = "operator", "console-pw"


def operator() -> User:
    """The console's user in these tests: an operator, who may acknowledge alerts."""
    user = User.objects.create_user(USER, password=PASSWORD)
    user.groups.add(Group.objects.get(name="operator"))
    return user


@pytest.fixture
def chromium(web):
    operator()
    window = browser.Browser(web)
    try:
        yield window
    finally:
        window.close()


def clean(window: browser.Browser) -> None:
    assert window.errors() == [], "the browser logged errors"
    assert window.foreign_requests() == [], "the page asked another origin"


def no_overflow(window: browser.Browser) -> bool:
    return window.js("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.fixture
def pipeline(celery_workers, tmp_path):
    """Two simulated cameras in zone gate, captured every second by beat and the real workers."""
    purge_queues()
    sim = Simulator(port=0, cameras=["gate-1", "gate-2"]).start()
    for name in ("gate-1", "gate-2"):
        sim.set_payload(name, "")
        camera_upsert(name=name, url=sim.url(name), interval_s=1.0, timeout_s=1.0, zone="gate")
    env = {
        **os.environ,
        "DATABASE_URL": celery_workers["io"].env["DATABASE_URL"],
        "CELERY_BROKER_URL": celery_workers["io"].env["CELERY_BROKER_URL"],
        "CAMTRACK_DATA_DIR": str(tmp_path),
    }
    beat = procs.start("beat", procs.procfile_lines()["beat"], env)
    try:
        yield sim
    finally:
        procs.stop(beat)
        sim.stop()


def test_login_then_cameras_and_sightings_arrive_live_and_the_camera_page_shows_its_frame(pipeline, chromium):
    chromium.login(USER, PASSWORD)
    assert chromium.driver.current_url.rstrip("/") == chromium.base
    chromium.js("window.sameDocument = true")  # gone if the page reloads
    tile = "[data-camera='gate-1']"
    chromium.wait(lambda: "online" in chromium.text(tile), timeout=30, what="gate-1 online without a reload")
    assert chromium.text("#summary [data-status='online']") == "2"

    code = f"PARCEL-{uuid.uuid4().hex[:10].upper()}"
    pipeline.set_payload("gate-1", code)
    chromium.wait(lambda: code in chromium.text("#feed"), timeout=15, what="the new sighting in the feed")
    assert chromium.js("return window.sameDocument") is True
    row = chromium.driver.find_element(By.CSS_SELECTOR, "#feed tr:first-child")
    assert code in row.text and "gate-1" in row.text
    chromium.screenshot(SHOTS / "console-live.png")
    clean(chromium)

    chromium.open("/cameras/gate-1/")
    chromium.wait_ready()
    chromium.wait(
        lambda: chromium.js(
            "const i = document.querySelector('#frame img'); return i && i.naturalWidth > 0 "
            "&& document.querySelectorAll('#frame svg polygon').length === 1"
        ),
        timeout=10,
        what="the latest frame with its code outlined",
    )
    assert code in chromium.text("#frame-info") and code in chromium.text("#feed")
    assert "online" in chromium.text("#cam-status")
    chromium.screenshot(SHOTS / "console-camera.png")
    clean(chromium)


def _visit(camera, zone, code: str, start: dt.datetime, dwell_s: float) -> Sighting:
    return Sighting.objects.create(
        camera=camera,
        zone=zone,
        text=code,
        format="qr",
        first_seen=start,
        last_seen=start + dt.timedelta(seconds=dwell_s),
        ended_at=start + dt.timedelta(seconds=dwell_s + 3),
        frames=int(dwell_s) + 1,
    )


def test_a_code_typed_into_the_search_shows_its_journey_in_order(chromium):
    dock, sort = Zone.objects.create(name="dock"), Zone.objects.create(name="sorter")
    route = [("dock-1", dock), ("sort-4", sort), ("sort-2", sort), ("out-9", None)]
    cameras = {name: CameraFactory(name=name, zone=zone) for name, zone in route}
    code = f"PARCEL-{uuid.uuid4().hex[:8]}"
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    # Written out of order: the page orders them by arrival.
    for i in (2, 0, 3, 1):
        name, zone = route[i]
        _visit(cameras[name], zone, code, t0 + dt.timedelta(seconds=40 * i), dwell_s=12 + i)
    _visit(cameras["dock-1"], dock, "OTHER-CODE", t0, 5)

    chromium.login(USER, PASSWORD)
    body = chromium.driver.find_element(By.TAG_NAME, "body")
    body.send_keys("/")  # the keyboard shortcut to the search box
    assert chromium.js("return document.activeElement.id") == "code-search"
    chromium.driver.switch_to.active_element.send_keys(code, Keys.ENTER)
    chromium.wait(lambda: "journey" in chromium.driver.current_url, what="the journey page")
    chromium.wait_ready()
    cells = chromium.driver.find_elements(By.CSS_SELECTOR, "#journey td.journey-camera")
    assert [c.text for c in cells] == [name for name, _ in route]
    assert "out-9" in chromium.text("#last-seen") and "ago" in chromium.text("#last-seen")
    assert len(chromium.driver.find_elements(By.CSS_SELECTOR, ".timeline .seg")) == 4
    chromium.screenshot(SHOTS / "console-journey.png")

    # The address is the journey: opened again (a shared link), it shows the same.
    chromium.open(chromium.driver.current_url.removeprefix(chromium.base))
    chromium.wait_ready()
    assert len(chromium.driver.find_elements(By.CSS_SELECTOR, "#journey td.journey-camera")) == 4
    chromium.open("/journey/?code=NO-SUCH-CODE")
    chromium.wait_ready()
    assert "No sightings" in chromium.text("#journey")
    clean(chromium)


def test_counts_charts_draw_the_zones_sightings_and_read_rate(chromium):
    zone = Zone.objects.create(name="outbound")
    camera = CameraFactory(name="out-1", zone=zone)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    expected = 0
    for m in range(1, 31):
        n = m % 4
        CameraMinute.objects.create(
            camera=camera, zone=zone, start=now - dt.timedelta(minutes=m), frames=60, reads=45, no_reads=1, sightings=n
        )
        expected += n

    chromium.login(USER, PASSWORD, then="/counts/?zone=outbound")
    chromium.wait_ready()
    for bucket in ("minute", "hour"):
        figure = f"#chart-{bucket}"
        assert chromium.js(f"return document.querySelectorAll('{figure} canvas').length") == 1
        assert int(chromium.js(f"return document.querySelector('{figure}').dataset.total")) == expected
    assert f"{expected} sightings" in chromium.text("#totals") and "75.0 %" in chromium.text("#totals")
    chromium.screenshot(SHOTS / "console-counts.png")

    picker = chromium.driver.find_element(By.ID, "pick")
    picker.send_keys("out-1")  # choose the camera by keyboard
    chromium.wait(lambda: "camera=out-1" in chromium.driver.current_url, what="the camera's counts")
    chromium.wait(lambda: chromium.js("return document.querySelector('#chart-minute').dataset.total") == str(expected))
    clean(chromium)


def test_an_alert_appears_live_and_is_acknowledged_from_the_keyboard(chromium):
    camera = CameraFactory(name="dock-7")
    rule = AlertRule.objects.create(name="dock offline", kind=AlertRule.Kind.CAMERA_OFFLINE, camera=camera, seconds=30)
    chromium.login(USER, PASSWORD, then="/alerts/")
    assert "No open alerts" in chromium.text("#alerts")

    alert = alert_raise(rule=rule, key="dock-7", detail={"camera": "dock-7"})
    item = f"[data-alert='{alert.pk}']"
    chromium.wait(lambda: "dock offline" in chromium.text(item), what="the alert without a reload")
    assert chromium.text("#alert-count") == "1"
    button = chromium.driver.find_element(By.CSS_SELECTOR, f"{item} button.ack")
    button.send_keys(Keys.ENTER)
    chromium.wait(lambda: "acknowledged by operator" in chromium.text(item), what="the acknowledgement")
    alert.refresh_from_db()
    assert alert.acknowledged_by == USER and alert.acknowledged_at is not None
    chromium.screenshot(SHOTS / "console-alerts.png")

    alert_clear(rule=rule, key="dock-7", reason="camera back online")
    chromium.wait(lambda: not chromium.js(f'return document.querySelector("#alerts {item}")'), what="cleared")
    chromium.wait(lambda: "camera back online" in chromium.text("#history"), what="the history row")
    assert chromium.text("#alert-count") == "0"
    assert Alert.objects.get(pk=alert.pk).cleared_at is not None
    clean(chromium)


def test_pages_fit_a_tablet_and_a_small_laptop(web):
    operator()
    zone = Zone.objects.create(name="dock")
    cameras = [
        CameraFactory(name=f"dock-{i:03d}", zone=zone, status="offline" if i % 50 == 0 else "online")
        for i in range(300)
    ]
    now = dt.datetime.now(dt.UTC)
    for i in range(12):
        _visit(cameras[10 + 7 * i], zone, f"PALLET-{4711 + i}", now - dt.timedelta(seconds=30 * (12 - i)), 8 + i)
    rule = AlertRule.objects.create(name="camera offline", kind=AlertRule.Kind.CAMERA_OFFLINE, seconds=60)
    alert_raise(rule=rule, key="dock-050", detail={"camera": "dock-050", "zone": "dock"})
    for width, height in ((1366, 768), (768, 1024)):
        window = browser.Browser(web, width=width, height=height)
        try:
            window.login(USER, PASSWORD)
            assert window.js("return document.querySelectorAll('#grid li').length") == 60  # one page
            first = window.js("return document.querySelector('#grid li').dataset.camera")
            assert first == "dock-000"  # offline ones first
            assert window.text("#cam-shown") == "300 of 300"
            for path in ("/", "/counts/?zone=dock", "/alerts/", "/cameras/dock-001/", "/journey/?code=X"):
                window.open(path)
                window.wait_ready()
                assert no_overflow(window), f"{path} scrolls sideways at {width} px"
            window.open("/?status=offline")
            window.wait_ready()
            assert window.text("#cam-shown") == "6 of 300"
            window.open("/")
            window.wait_ready()
            window.screenshot(SHOTS / ("console-overview.png" if width == 1366 else "console-tablet.png"))
            clean(window)
        finally:
            window.close()


def test_the_overview_catches_up_with_what_happened_while_its_server_was_away(django_db_blocker):
    operator()
    camera = CameraFactory(name="dock-1")
    port = free_port()
    with django_db_blocker.unblock():
        database = database_url()
    proc = start_web(port, database)
    window = browser.Browser(f"http://127.0.0.1:{port}")
    try:
        window.login(USER, PASSWORD)
        window.js("window.sameDocument = true")
        window.wait(lambda: window.text("#live") == "live", what="the stream open")
        procs.stop(proc)
        window.wait(lambda: window.text("#live") != "live", what="the page to notice")
        # While no server runs, the pipeline goes on: a sighting begins.
        now = dt.datetime.now(dt.UTC).isoformat()
        body = {"sighting": 424242, "camera": camera.name, "zone": None, "code": "MISSED-WHILE-AWAY"}
        events_write([("sighting.new", {**body, "format": "qr", "first_seen": now, "last_seen": now, "frames": 1})])
        proc = start_web(port, database)
        window.wait(lambda: "MISSED-WHILE-AWAY" in window.text("#feed"), timeout=30, what="the missed sighting")
        assert window.js("return window.sameDocument") is True
        assert window.text("#live") == "live"
        # Only the server's absence itself may show in the log (failed reconnects), nothing else.
        assert all("events/stream" in e for e in window.errors())
        assert window.foreign_requests() == []
    finally:
        window.close()
        procs.stop(proc)
