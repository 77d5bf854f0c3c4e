import base64
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cameras.models import Camera, CameraEvent, Snapshot
from detections.decoders import Code, DecodeResult
from detections.models import Detection
from pipeline.store import StoreEntry, snapshot_store, snapshots_store

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
STORE_STATEMENTS = 9  # whatever the batch size


def _result() -> DecodeResult:
    return DecodeResult(
        codes=[
            Code(
                format="qr", text="PALLET-7 ü\r\n", raw=None, position=[[1, 2], [3, 4], [5, 6], [7, 8]], engine="zxing"
            ),
            Code(format="qr", text="\x00\xff", raw=b"\x00\xff", position=[[0, 0]] * 4, engine="zxing"),
        ],
        width=1280,
        height=720,
        ms=3.2,
    )


def _store(camera: Camera, slot: dt.datetime = T0) -> bool:
    return snapshot_store(
        camera_id=camera.pk,
        scheduled_at=slot,
        captured_at=slot + dt.timedelta(milliseconds=40),
        capture_ms=12.5,
        nbytes=81234,
        result=_result(),
    )


def test_store_writes_snapshot_detections_and_health_once(camera_factory):
    camera = camera_factory()
    assert _store(camera) is True
    assert _store(camera) is False  # a redelivered task: nothing doubled
    snap = Snapshot.objects.get()
    assert (snap.status, snap.width, snap.height, snap.bytes, snap.capture_ms) == ("ok", 1280, 720, 81234, 12.5)
    rows = list(Detection.objects.order_by("seq").values("text", "raw", "position", "camera_id", "scheduled_at"))
    assert [r["text"] for r in rows] == ["PALLET-7 ü\r\n", "\ufffd\xff"]  # NUL cannot be stored as text
    assert rows[0]["raw"] is None and bytes(rows[1]["raw"]) == b"\x00\xff"
    assert rows[0]["position"] == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert {r["camera_id"] for r in rows} == {camera.pk} and rows[0]["scheduled_at"] == T0
    camera.refresh_from_db()
    assert (camera.status, camera.captures_ok, camera.consecutive_failures) == ("online", 1, 0)
    assert list(CameraEvent.objects.values_list("previous", "status")) == [("new", "online")]


def test_api_returns_raw_payload_as_base64(camera_factory, admin_client):
    _store(camera_factory())
    data = admin_client.get("/api/detections/?page_size=10").json()["results"]
    raws = {d["text"]: d["raw"] for d in data}
    assert raws["PALLET-7 ü\r\n"] is None and base64.b64decode(raws["\ufffd\xff"]) == b"\x00\xff"


def test_steady_state_store_costs_a_fixed_number_of_statements_on_postgresql(camera_factory):
    camera = camera_factory()
    _store(camera)  # first success moves the camera online (an event, extra queries)
    with CaptureQueriesContext(connection) as ctx:
        _store(camera, T0 + dt.timedelta(seconds=5))
    # PostgreSQL: savepoint, camera rows locked, sighting locks, one INSERT ... RETURNING with CTEs, camera zones, open
    # sightings, their update, counts upsert, release; other databases: the ORM transaction.
    limit = STORE_STATEMENTS if connection.vendor == "postgresql" else 14
    assert len(ctx.captured_queries) <= limit, [q["sql"][:80] for q in ctx.captured_queries]
    assert Detection.objects.count() == 4


def test_a_batch_is_stored_in_one_statement_and_redelivery_doubles_nothing(camera_factory):
    cams = camera_factory.create_batch(4)
    for cam in cams:
        _store(cam)  # online now
    entries = [
        StoreEntry(cam.pk, T0 + dt.timedelta(seconds=9), T0 + dt.timedelta(seconds=9.05), 3.0, 1000, _result())
        for cam in cams
    ]
    with CaptureQueriesContext(connection) as ctx:
        assert snapshots_store(entries) == 4
    if connection.vendor == "postgresql":  # as many statements for four frames as for one
        assert len(ctx.captured_queries) <= STORE_STATEMENTS, [q["sql"][:80] for q in ctx.captured_queries]
    assert snapshots_store(entries) == 0
    assert Snapshot.objects.count() == 8 and Detection.objects.count() == 16
    assert sorted(Camera.objects.values_list("captures_ok", flat=True)) == [2, 2, 2, 2]
