"""GET /api/coverage/ and the admin: how due slots ended, per camera, per hour and in total."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.slots import FAILED, STORED, slots_count, slots_skip

pytestmark = pytest.mark.django_db

H0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def client():
    user = User.objects.create_user("viewer", password="pw")
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return c


@pytest.fixture
def slots(camera_factory):
    dock, gate = camera_factory(name="dock"), camera_factory(name="gate")
    t = H0.timestamp()
    slots_count(outcome=STORED, slots=[(dock.pk, t + i) for i in range(90)])
    slots_count(outcome=FAILED, slots=[(dock.pk, t + 100)], reason="timeout")
    slots_skip(slots=[(dock.pk, t + 3600 + i) for i in range(9)], reason="outage")  # the next hour
    slots_count(outcome=STORED, slots=[(dock.pk, t + 3700)])
    slots_count(outcome=STORED, slots=[(gate.pk, t + 5)])
    return dock, gate


def test_totals_per_camera_and_hour_with_the_share_stored(client, slots):
    since, until = H0.isoformat(), (H0 + dt.timedelta(hours=2)).isoformat()
    body = client.get("/api/coverage/", {"since": since, "until": until, "hours": "true"}).json()
    assert body["total"] == {
        "due": 102,
        "stored": 92,
        "failed": {"timeout": 1},
        "skipped": {"outage": 9},
        "coverage": round(92 / 102, 4),
    }
    dock = next(c for c in body["cameras"] if c["camera"] == "dock")
    assert [h["hour"] for h in dock["hours"]] == [H0.isoformat(), (H0 + dt.timedelta(hours=1)).isoformat()]
    assert dock["hours"][0]["coverage"] == round(90 / 91, 4)
    assert dock["hours"][1] == {
        "hour": (H0 + dt.timedelta(hours=1)).isoformat(),
        "due": 10,
        "stored": 1,
        "failed": {},
        "skipped": {"outage": 9},
        "coverage": 0.1,
    }


def test_one_camera_and_a_window(client, slots):
    body = client.get(
        "/api/coverage/",
        {"camera": "dock", "since": (H0 + dt.timedelta(hours=1)).isoformat(), "until": "2026-03-01T12:00:00Z"},
    ).json()
    assert [c["camera"] for c in body["cameras"]] == ["dock"]
    assert body["total"]["due"] == 10 and len(body["cameras"][0]["hours"]) == 1


def test_bad_windows_are_refused_by_name(client):
    assert client.get("/api/coverage/", {"since": "yesterday"}).json() == {"since": "expected an ISO 8601 date-time"}
    response = client.get("/api/coverage/", {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"})
    assert response.status_code == 400 and "since" in response.json()
    assert APIClient().get("/api/coverage/").status_code in (401, 403)


def test_admin_shows_coverage_per_camera(slots, admin_client):
    dock, _ = slots
    # The last 24 hours: move the rows to now.
    from cameras.models import SlotHour

    now_hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    SlotHour.objects.filter(camera=dock, hour=H0).update(hour=now_hour)
    page = admin_client.get("/admin/cameras/camera/").content.decode()
    assert "98.9%" in page  # 90 of 91
    page = admin_client.get(f"/admin/cameras/camera/{dock.pk}/change/").content.decode()
    assert "98.9% of 91 slots stored; failed timeout 1" in page
    assert admin_client.get("/admin/cameras/slothour/").status_code == 200
