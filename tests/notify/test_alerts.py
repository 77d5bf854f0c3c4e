"""Alert rules, run by the notify process's alerts channel on real events and database rows."""

import datetime as dt
import uuid

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from cameras.models import Camera
from cameras.services import camera_upsert, zone_for
from notify.alerts import AlertChannel
from notify.events import events_last_id, events_read, events_write
from notify.models import Alert, AlertRule, RouteWatch

pytestmark = pytest.mark.django_db


def _announced(after: str, kind: str) -> list[dict]:
    return [e.as_dict() for e in events_read(after=after, count=10_000) if e.type == kind]


def _new(code: str, camera: str, zone: str, at: dt.datetime | None = None) -> tuple[str, dict]:
    at = at or dt.datetime.now(dt.UTC)
    return ("sighting.new", {"code": code, "camera": camera, "zone": zone, "first_seen": at.isoformat()})


def _run(channel: AlertChannel, after: str) -> str:
    events = events_read(after=after, count=10_000)
    if events:
        channel.handle(events)
        after = events[-1].id
    channel._checked = 0.0  # the next tick checks at once
    channel.tick()
    return after


def test_offline_camera_raises_once_and_clears_when_back():
    cam, _ = camera_upsert(name="al-dock", url="http://127.0.0.1:9/a.jpg", zone="dock")
    rule = AlertRule.objects.create(name="dock down", kind="camera_offline", camera=cam, seconds=10)
    start = events_last_id()
    channel = AlertChannel()
    Camera.objects.filter(pk=cam.pk).update(
        status="offline", status_since=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    )
    _run(channel, start)
    assert not Alert.objects.exists()  # offline for 5 s of the 10 required
    Camera.objects.filter(pk=cam.pk).update(status_since=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=11))
    _run(channel, start)
    _run(channel, start)  # still down: raised once
    alert = Alert.objects.get(rule=rule)
    assert alert.key == "al-dock" and alert.cleared_at is None
    Camera.objects.filter(pk=cam.pk).update(status="online")
    _run(channel, start)
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    raised, cleared = _announced(start, "alert.raised"), _announced(start, "alert.cleared")
    assert [(e["rule"], e["camera"], e["zone"]) for e in raised] == [("dock down", "al-dock", "dock")]
    assert [e["alert"] for e in cleared] == [alert.pk]


def test_expected_route_fires_for_exactly_the_codes_that_never_arrive():
    zone_for(name="inbound"), zone_for(name="sorter")
    rule = AlertRule.objects.create(
        name="lost", kind="expected_route", zone=zone_for(name="inbound"), to_zone=zone_for(name="sorter"), seconds=20
    )
    start = events_last_id()
    channel = AlertChannel()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    arrived, lost, late = (f"R-{uuid.uuid4().hex[:6]}" for _ in range(3))
    events_write([_new(c, "in-cam", "inbound", past) for c in (arrived, lost, late)])
    events_write([_new(arrived, "sort-cam", "sorter", past + dt.timedelta(seconds=12))])
    position = _run(channel, start)
    assert sorted(a.key for a in Alert.objects.filter(rule=rule)) == sorted([lost, late])
    # The late one reaches the sorter after all: its alert clears; the lost one stays raised.
    events_write([_new(late, "sort-cam", "sorter")])
    _run(channel, position)
    assert {a.key: a.cleared_at is None for a in Alert.objects.filter(rule=rule)} == {lost: True, late: False}
    assert RouteWatch.objects.filter(rule=rule, code=arrived, met_at__isnull=False).exists()


def test_watched_code_and_acknowledgement_through_the_api():
    rule = AlertRule.objects.create(name="vip", kind="watched_code", code_match="prefix", code="VIP-")
    start = events_last_id()
    channel = AlertChannel()
    events_write([_new("VIP-7", "gate", "dock"), _new("PLAIN-1", "gate", "dock")])
    position = _run(channel, start)
    alert = Alert.objects.get(rule=rule)
    assert alert.key == "VIP-7@gate"
    admin = User.objects.create_superuser("boss-al", password="pw")
    api = APIClient()
    api.force_authenticate(admin)
    listed = api.get("/api/alerts/", {"open": "true"}).json()["results"]
    assert [a["key"] for a in listed] == ["VIP-7@gate"] and listed[0]["open"]
    acked = api.post(f"/api/alerts/{alert.pk}/acknowledge/").json()
    assert acked["acknowledged_by"] == "boss-al" and acked["acknowledged_at"]
    events_write([("sighting.end", {"code": "VIP-7", "camera": "gate", "zone": "dock"})])
    _run(channel, position)
    assert api.get("/api/alerts/", {"open": "true"}).json()["results"] == []
    bad = api.post("/api/alert-rules/", {"name": "r", "kind": "watched_code", "code_match": "regex", "code": "("})
    assert bad.status_code == 400 and "code" in bad.json()
