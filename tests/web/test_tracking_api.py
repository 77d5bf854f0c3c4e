"""Journeys, sightings and counts as an API client sees them, from frames stored the pipeline's way."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.services import camera_upsert
from detections.decoders import Code, DecodeResult
from pipeline.store import StoreEntry, snapshots_store
from tracking.services import sightings_close_stale

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def api():
    token = Token.objects.create(user=User.objects.create_user("viewer", password="pw"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _frame(camera, second: float, *texts: str) -> StoreEntry:
    at = T0 + dt.timedelta(seconds=second)
    codes = [
        Code(format="qr", text=t, raw=None, position=[[0, 0], [9, 0], [9, 9], [0, 9]], engine="zxing") for t in texts
    ]
    return StoreEntry(camera.pk, at, at, 4.0, 900, DecodeResult(codes=codes, width=640, height=480))


@pytest.fixture
def route():
    """Parcel P crosses dock (0-4 s), sorter (8-12 s) and dock again (20-21 s); Q waits at the sorter."""
    dock, _ = camera_upsert(name="dock-cam", url="http://127.0.0.1:9/d.jpg", interval_s=1.0, zone="dock")
    sorter, _ = camera_upsert(name="sorter-cam", url="http://127.0.0.1:9/s.jpg", interval_s=1.0, zone="sorter")
    for s in range(5):
        snapshots_store([_frame(dock, s, "P"), _frame(sorter, s, "Q")])
    for s in range(8, 13):
        snapshots_store([_frame(sorter, s, "P", "Q"), _frame(dock, s)])
    for s in (20, 21):
        snapshots_store([_frame(dock, s, "P")])
    sightings_close_stale(now=T0 + dt.timedelta(seconds=40))
    return dock, sorter


def test_journey_lists_every_visit_in_order_with_the_last_place(api, route):
    body = api.get("/api/journey/", {"code": "P"}).json()
    visits = [(v["camera"], v["zone"], v["frames"], v["dwell_s"]) for v in body["sightings"]]
    assert visits == [("dock-cam", "dock", 5, 4.0), ("sorter-cam", "sorter", 5, 4.0), ("dock-cam", "dock", 2, 1.0)]
    assert body["code"] == "P" and all(v["ended_at"] for v in body["sightings"])
    assert body["last_seen"]["camera"] == "dock-cam" and body["last_seen"]["zone"] == "dock"
    assert body["last_seen"]["at"].startswith("2026-05-04T10:00:21")
    assert api.get("/api/journey/", {"code": "nobody"}).json() == {"code": "nobody", "last_seen": None, "sightings": []}
    assert api.get("/api/journey/").status_code == 400


def test_sightings_filter_and_page_newest_first(api, route):
    everything = api.get("/api/sightings/", {"page_size": 2}).json()
    ids = [s["id"] for s in everything["results"]]
    while everything["next"]:
        everything = api.get(everything["next"]).json()
        ids += [s["id"] for s in everything["results"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4  # P three visits; Q one (4 s apart: within its gap)
    at_sorter = api.get("/api/sightings/", {"zone": "sorter"}).json()["results"]
    assert sorted(s["code"] for s in at_sorter) == ["P", "Q"]
    assert [s["code"] for s in api.get("/api/sightings/", {"code_prefix": "Q"}).json()["results"]] == ["Q"]
    late = api.get("/api/sightings/", {"since": (T0 + dt.timedelta(seconds=15)).isoformat()}).json()["results"]
    assert [(s["camera"], s["code"]) for s in late] == [("dock-cam", "P")]
    assert api.get("/api/sightings/", {"open": "true"}).json()["results"] == []
    assert api.get("/api/sightings/", {"until": "soon"}).status_code == 400


def test_counts_per_minute_and_per_zone_come_from_the_roll_up(api, route):
    window = {"since": T0.isoformat(), "until": (T0 + dt.timedelta(hours=1)).isoformat()}
    dock = api.get("/api/counts/", {"bucket": "minute", "camera": "dock-cam", **window}).json()["results"]
    assert [(r["sightings"], r["codes"], r["frames"], r["reads"]) for r in dock] == [(2, 1, 12, 7)]
    assert dock[0]["read_rate"] == round(7 / 12, 4) and dock[0]["camera"] == "dock-cam"
    sorter = api.get("/api/counts/", {"bucket": "hour", "zone": "sorter", **window}).json()["results"]
    assert [(r["sightings"], r["codes"], r["frames"]) for r in sorter] == [(2, 2, 10)]
    assert api.get("/api/counts/", {"bucket": "week", "camera": "dock-cam"}).status_code == 400
    assert api.get("/api/counts/", {"bucket": "hour"}).status_code == 400
    assert api.get("/api/counts/", {"bucket": "hour", "zone": "nowhere"}).status_code == 404


def test_console_journey_page_carries_the_journey_in_order(route, admin_client):
    from tests.web.test_console import page_data

    data = page_data(admin_client.get("/journey/", {"code": "P"}))
    assert [s["camera"] for s in data["sightings"]] == ["dock-cam", "sorter-cam", "dock-cam"]
    assert data["last_seen"]["camera"] == "dock-cam" and data["last_seen"]["zone"] == "dock"
    assert page_data(admin_client.get("/journey/", {"code": "nobody"}))["sightings"] == []
    latest = {s["code"] for s in page_data(admin_client.get("/"))["sightings"]}
    assert {"P", "Q"} <= latest


def test_settled_buckets_are_cached_and_live_ones_are_not(route):
    from tracking.selectors import counts
    from tracking.services import sightings_close_stale as close

    dock = route[0]
    window = {"bucket": "minute", "since": T0, "until": T0 + dt.timedelta(hours=1), "camera": dock}
    settled_now = T0 + dt.timedelta(hours=2)
    first = counts(**window, now=settled_now)
    # A frame stored into a settled bucket afterwards is not seen (the cache answers) ...
    snapshots_store([_frame(dock, 30, "LATE")])
    close(now=T0 + dt.timedelta(seconds=90))
    assert counts(**window, now=settled_now) == first
    # ... while a bucket that has not settled is read afresh.
    fresh = counts(**window, now=T0 + dt.timedelta(minutes=5))
    assert fresh[0].frames == first[0].frames + 1 and fresh[0].sightings == first[0].sightings + 1
