"""Camera health: transitions, the event log, backoff that the dispatch honours, and statistics."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cameras.health import BACKOFF_CAP_S, OFFLINE_AFTER, backoff_s, camera_mark_failure, camera_mark_success
from cameras.models import Camera, CameraEvent, Snapshot
from cameras.schedule import cameras_claim_due
from cameras.selectors import camera_capture_stats
from tests.factories import CameraFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _fail(camera: Camera, seconds: float, error: str = "timeout", detail: str = "no answer in time") -> Camera:
    camera_mark_failure(camera_id=camera.pk, at=_at(seconds), error=error, detail=detail)
    camera.refresh_from_db()
    return camera


def test_failures_go_degraded_then_offline_with_one_event_per_change():
    camera = CameraFactory(name="dock-3", interval_s=1.0, next_run_at=T0.timestamp())
    camera = _fail(camera, 1)
    assert (camera.status, camera.consecutive_failures, camera.status_since) == ("degraded", 1, _at(1))
    for i in range(2, OFFLINE_AFTER + 3):
        camera = _fail(camera, i, error="refused", detail="connection refused")
    assert camera.status == "offline"
    assert camera.status_since == _at(OFFLINE_AFTER)
    assert camera.consecutive_failures == OFFLINE_AFTER + 2
    assert camera.captures_failed == OFFLINE_AFTER + 2
    assert camera.last_error == "refused: connection refused"
    events = list(CameraEvent.objects.filter(camera=camera).order_by("at").values_list("previous", "status", "reason"))
    assert events == [
        ("new", "degraded", "timeout: no answer in time"),
        ("degraded", "offline", "refused: connection refused"),
    ]


def test_back_online_at_the_first_success():
    camera = CameraFactory(interval_s=1.0, next_run_at=T0.timestamp())
    for i in range(OFFLINE_AFTER + 2):
        camera = _fail(camera, i)
    assert camera.status == "offline"
    camera_mark_success(camera_id=camera.pk, at=_at(100))
    camera.refresh_from_db()
    assert (camera.status, camera.consecutive_failures, camera.last_error) == ("online", 0, "")
    assert camera.status_since == _at(100) and camera.last_capture_at == _at(100)
    latest = CameraEvent.objects.filter(camera=camera).first()
    assert (latest.previous, latest.status, latest.at) == ("offline", "online", _at(100))
    # Staying online writes no further event.
    camera_mark_success(camera_id=camera.pk, at=_at(101))
    assert CameraEvent.objects.filter(camera=camera, status="online").count() == 1


def test_a_failure_after_online_degrades_at_once():
    camera = CameraFactory(next_run_at=T0.timestamp())
    camera_mark_success(camera_id=camera.pk, at=_at(0))
    camera = _fail(camera, 1, error="http_500", detail="Internal Server Error")
    assert camera.status == "degraded" and camera.last_error == "http_500: Internal Server Error"


def test_backoff_doubles_up_to_its_cap():
    delays = [backoff_s(interval_s=1.0, consecutive_failures=n) for n in range(1, 15)]
    assert delays[: OFFLINE_AFTER - 1] == [0.0] * (OFFLINE_AFTER - 1)
    assert delays[OFFLINE_AFTER - 1 : OFFLINE_AFTER + 3] == [2.0, 4.0, 8.0, 16.0]
    assert max(delays) == BACKOFF_CAP_S and delays[-1] == BACKOFF_CAP_S
    # A camera polled more slowly than the cap is never retried more often than its interval.
    assert backoff_s(interval_s=600.0, consecutive_failures=20) == 600.0


def _claim(now: float) -> list[int]:
    # A horizon just past now: what one dispatch round at `now` claims.
    return [row[0] for row in cameras_claim_due(now=now, horizon=now + 0.01)[0]]


def test_offline_camera_is_not_dispatched_until_its_backoff_ends():
    """The dispatch claims cameras due before its horizon; mark_failure pushes next_run_at past the backoff."""
    now = T0.timestamp()
    camera = CameraFactory(interval_s=1.0, timeout_s=1.0, next_run_at=now)
    for i in range(OFFLINE_AFTER):  # degraded cameras keep their normal rate
        assert _claim(now) == [camera.pk], f"round {i}"
        camera = _fail(camera, now + 0.5 - T0.timestamp())
        now += 1.0
    assert camera.status == "offline" and camera.lease_until is None
    for delay in (2.0, 4.0, 8.0):  # then each retry waits twice as long
        failed_at = now - 0.5
        assert camera.next_run_at == pytest.approx(failed_at + delay)
        assert _claim(failed_at + delay - 0.1) == []
        now = failed_at + delay
        assert _claim(now) == [camera.pk]
        camera = _fail(camera, now + 0.5 - T0.timestamp())
        now += 1.0
    # The first success brings it back to its normal schedule.
    camera_mark_success(camera_id=camera.pk, at=_at(now - T0.timestamp()))
    camera.refresh_from_db()
    assert camera.status == "online" and _claim(camera.next_run_at) == [camera.pk]


def test_failure_keeps_a_later_next_run_at():
    camera = CameraFactory(interval_s=600.0, next_run_at=T0.timestamp() + 600)
    for i in range(OFFLINE_AFTER):
        camera = _fail(camera, i)
    # Backoff 1200 s from the failure at 2 s is later than the schedule: it wins.
    assert camera.next_run_at == pytest.approx(T0.timestamp() + 2 + 1200)


def _snapshots(camera: Camera, results: list[tuple[str, float | None]], start: int = 0) -> None:
    Snapshot.objects.bulk_create(
        Snapshot(
            camera=camera,
            scheduled_at=_at(start + i),
            status=status,
            capture_ms=ms,
            error="" if status == "ok" else "timeout",
        )
        for i, (status, ms) in enumerate(results)
    )


def test_stats_are_percentiles_over_the_recent_window_in_one_query():
    a, b, quiet = CameraFactory(), CameraFactory(), CameraFactory()
    _snapshots(a, [("failed", None)] * 50, start=0)  # older than the window: ignored
    _snapshots(a, [("ok", float(ms)) for ms in range(1, 101)], start=1000)
    _snapshots(b, [("ok", 10.0), ("ok", 20.0), ("failed", None), ("failed", 2000.0)])
    with CaptureQueriesContext(connection) as queries:
        stats = camera_capture_stats(camera_ids=[a.pk, b.pk, quiet.pk], window=100)
    assert len(queries) == 1
    assert stats[a.pk].samples == 100 and stats[a.pk].success_ratio == 1.0
    assert stats[a.pk].capture_p50_ms == pytest.approx(50.5)
    assert stats[a.pk].capture_p95_ms == pytest.approx(95.0, abs=0.1)
    # Failed captures count against the ratio but not in the capture-time percentiles.
    assert (stats[b.pk].capture_p50_ms, stats[b.pk].capture_p95_ms, stats[b.pk].success_ratio) == (15.0, 19.5, 0.5)
    assert stats[quiet.pk].samples == 0 and stats[quiet.pk].success_ratio is None


def test_api_and_admin_show_health_stats_and_events():
    camera = CameraFactory(name="dock-3", interval_s=1.0, next_run_at=T0.timestamp())
    _snapshots(camera, [("ok", 12.0), ("ok", 14.0), ("failed", None), ("failed", None)])
    for i in range(OFFLINE_AFTER):
        _fail(camera, i, error="timeout", detail="no answer in time")
    CameraFactory.create_batch(30)
    user = User.objects.create_superuser("root", password="pw")
    api = APIClient()
    api.force_authenticate(user)
    with CaptureQueriesContext(connection) as queries:
        page = api.get("/api/cameras/").json()
    assert len(queries) <= 4, [q["sql"] for q in queries]  # count, page, stats: not one per camera
    row = next(r for r in page["results"] if r["name"] == "dock-3")
    assert row["status"] == "offline" and row["last_error"] == "timeout: no answer in time"
    assert row["status_since"] and row["capture_p50_ms"] == 13.0 and row["success_ratio"] == 0.5
    one = api.get("/api/cameras/dock-3/").json()
    assert one["capture_p95_ms"] == pytest.approx(13.9)
    events = api.get("/api/cameras/dock-3/events/").json()
    assert [e["status"] for e in events] == ["offline", "degraded"]
    assert events[0]["reason"] == "timeout: no answer in time"

    web = APIClient()
    web.force_login(user)
    html = web.get("/admin/cameras/camera/").content.decode()
    assert "offline since" in html and "timeout: no answer in time" in html
    change = web.get(f"/admin/cameras/camera/{camera.pk}/change/").content.decode()
    assert "13.0" in change and "0.5" in change
    page = web.get("/cameras/dock-3/").content.decode()
    assert '"capture_p50_ms": 13.0' in page and '"status": "offline"' in page
