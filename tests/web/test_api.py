import datetime as dt

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.models import Camera, Snapshot
from detections.models import Detection

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _detections(camera: Camera, texts: list[str], start: dt.datetime = T0) -> None:
    for i, text in enumerate(texts):
        at = start + dt.timedelta(seconds=i)
        snap = Snapshot.objects.create(camera=camera, scheduled_at=at, status="ok")
        Detection.objects.create(
            snapshot=snap,
            camera=camera,
            format="qr",
            text=text,
            position=[[0, 0]] * 4,
            scheduled_at=at,
            captured_at=at,
            created_at=at,
        )


@pytest.fixture
def client():
    user = User.objects.create_user("op", password="pw")
    token = Token.objects.create(user=user)
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return c


def test_anonymous_users_get_nothing():
    assert APIClient().get("/api/detections/").status_code in (401, 403)
    assert APIClient().get("/api/cameras/").status_code in (401, 403)


def test_cameras_never_show_credentials(client):
    Camera.objects.create(name="dock", url="http://u:topsecret@127.0.0.1/s.jpg", interval_s=5)
    resp = client.get("/api/cameras/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "topsecret" not in body and '"username"' not in body
    assert resp.json()["results"][0]["url"] == "http://127.0.0.1/s.jpg"


def test_detection_filters_and_pagination(client):
    a = Camera.objects.create(name="a", url="http://127.0.0.1/a", interval_s=5)
    b = Camera.objects.create(name="b", url="http://127.0.0.1/b", interval_s=5)
    _detections(a, [f"A-{i}" for i in range(5)])
    _detections(b, ["B-0", "A-1"], start=T0 + dt.timedelta(minutes=1))

    page = client.get("/api/detections/?page_size=3").json()
    assert "count" not in page and len(page["results"]) == 3 and page["next"]  # keyset pages: no COUNT(*)
    seen = [d["id"] for d in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [d["id"] for d in page["results"]]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7  # newest first, each once
    assert len(client.get("/api/detections/?camera=b").json()["results"]) == 2
    by_text = client.get("/api/detections/?text=A-1").json()["results"]
    assert sorted(d["camera"] for d in by_text) == ["a", "b"]
    since = (T0 + dt.timedelta(seconds=30)).isoformat()
    assert len(client.get("/api/detections/", {"since": since}).json()["results"]) == 2
    assert client.get("/api/detections/?format=code128").json()["results"] == []
    assert client.get("/api/detections/?since=yesterday").status_code == 400
    first = page["results"][0]
    assert set(first) >= {"id", "camera", "format", "text", "position", "scheduled_at", "captured_at", "created_at"}


def test_page_size_is_capped(client):
    a = Camera.objects.create(name="a", url="http://127.0.0.1/a", interval_s=5)
    _detections(a, [str(i) for i in range(3)])
    assert len(client.get("/api/detections/?page_size=5000").json()["results"]) == 3


def test_console_needs_login_and_shows_cameras_without_credentials():
    Camera.objects.create(name="pallet-gate", url="http://u:pw-xyz@127.0.0.1/a", interval_s=5)
    c = APIClient()
    assert c.get("/").status_code == 302
    User.objects.create_superuser("boss", password="pw")
    c.login(username="boss", password="pw")
    html = c.get("/").content.decode()
    assert "pallet-gate" in html and "pw-xyz" not in html
    admin_html = (
        c.get("/admin/cameras/camera/1/change/").content.decode() + c.get("/admin/cameras/camera/").content.decode()
    )
    assert "pallet-gate" in admin_html and "pw-xyz" not in admin_html


@pytest.mark.django_db
def test_healthz_reports_database_and_broker():
    resp = APIClient().get("/healthz")
    assert resp.status_code == 200, resp.content
    assert resp.json()["database"] == "ok" and resp.json()["broker"] == "ok"


def test_healthz_fails_when_the_broker_is_down(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    resp = APIClient().get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["broker"] != "ok"
