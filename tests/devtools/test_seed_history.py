"""seed_history writes what the pipeline would have: one snapshot per slot, parcels' detections,
sightings that follow the tracking rules, per-minute counts that add up, and a journey the API reads."""

import datetime as dt
import io
from collections import Counter, defaultdict

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from cameras.models import Camera, Snapshot
from detections.models import Detection
from tracking.models import CameraMinute, Sighting

CAMERAS, HOURS, RATE = 5, 0.05, 5  # one snapshot a second per camera, 180 slots each


@pytest.fixture
def seeded(transactional_db) -> str:
    out = io.StringIO()
    call_command(
        "seed_history", cameras=CAMERAS, hours=HOURS, rate=RATE, zones=2, seed=7, stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_cameras_zones_and_a_snapshot_for_every_slot(seeded):
    assert "snapshots" in seeded and "rows/s" in seeded
    cameras = list(Camera.objects.select_related("zone").order_by("name"))
    assert [c.name for c in cameras] == [f"seed-{i:04d}" for i in range(1, CAMERAS + 1)]
    assert {c.zone.name for c in cameras} == {"zone-01", "zone-02"}
    assert all(c.interval_s == CAMERAS / RATE and c.url == f"http://127.0.0.1:9/{c.name}.jpg" for c in cameras)
    slots = HOURS * 3600 / (CAMERAS / RATE)
    per_camera = Counter(Snapshot.objects.values_list("camera_id", flat=True))
    assert set(per_camera) == {c.pk for c in cameras}
    assert all(abs(n - slots) <= 1 for n in per_camera.values()), per_camera
    failed = Snapshot.objects.filter(status="failed")
    assert set(failed.values_list("error", flat=True)) <= {"timeout"}
    assert failed.count() < 0.05 * sum(per_camera.values())
    assert not failed.filter(captured_at__isnull=False).exists()
    for camera in cameras:
        assert camera.captures_ok == per_camera[camera.pk] - failed.filter(camera=camera).count()
        assert camera.status in ("online", "degraded") and camera.last_capture_at is not None


@pytest.mark.django_db(transaction=True)
def test_about_three_frames_in_four_show_a_parcel_and_each_read_is_in_a_sighting(seeded):
    ok = Snapshot.objects.filter(status="ok")
    detections = list(Detection.objects.select_related("snapshot"))
    assert 0.5 <= len({d.snapshot_id for d in detections}) / ok.count() <= 0.95
    sightings = defaultdict(list)
    for s in Sighting.objects.all():
        sightings[(s.camera_id, s.text)].append(s)
    for d in detections:
        assert d.text.startswith("PARCEL-") and d.snapshot.status == "ok"
        snapshot = d.snapshot
        assert (d.camera_id, d.scheduled_at, d.captured_at) == (
            snapshot.camera_id,
            snapshot.scheduled_at,
            snapshot.captured_at,
        )
        assert any(s.first_seen <= d.captured_at <= s.last_seen for s in sightings[(d.camera_id, d.text)]), d.text
    assert sum(s.frames for group in sightings.values() for s in group) == len(detections)


@pytest.mark.django_db(transaction=True)
def test_parcels_move_from_camera_to_camera_and_sightings_end_unless_in_view(seeded):
    journeys = defaultdict(list)
    for s in Sighting.objects.order_by("first_seen"):
        journeys[s.text].append(s)
    assert max(len({s.camera_id for s in visits}) for visits in journeys.values()) >= 2
    assert sum(len({s.camera_id for s in visits}) >= 2 for visits in journeys.values()) >= len(journeys) / 4
    for visits in journeys.values():
        for before, after in zip(visits, visits[1:], strict=False):
            assert before.camera_id != after.camera_id  # a parcel passes a camera once
            assert before.last_seen < after.first_seen  # and is in front of one camera at a time
    last_frame = Snapshot.objects.order_by("-scheduled_at").first().scheduled_at
    gap = dt.timedelta(seconds=Camera.objects.first().gap_s + 2)
    for s in Sighting.objects.all():
        assert s.first_seen <= s.last_seen and s.frames >= 1
        if s.ended_at is None:
            assert s.last_seen > last_frame - gap  # still in view at the end
        else:
            assert s.last_seen < s.ended_at <= s.last_seen + gap


@pytest.mark.django_db(transaction=True)
def test_minute_counts_match_the_snapshots(seeded):
    totals = CameraMinute.objects.aggregate(frames=Sum("frames"), reads=Sum("reads"), sightings=Sum("sightings"))
    assert totals["frames"] == Snapshot.objects.filter(status="ok").count()
    assert totals["reads"] == Detection.objects.values("snapshot_id").distinct().count()
    assert totals["sightings"] == Sighting.objects.count()
    for row in CameraMinute.objects.select_related("camera")[:20]:
        minute = (row.start, row.start + dt.timedelta(minutes=1))
        frames = Snapshot.objects.filter(camera=row.camera, status="ok", captured_at__gte=minute[0])
        assert frames.filter(captured_at__lt=minute[1]).count() == row.frames
        assert row.zone_id == row.camera.zone_id


@pytest.mark.django_db(transaction=True)
def test_journey_api_lists_a_parcels_sightings_in_time_order(seeded, admin_client):
    text = Counter(Sighting.objects.values_list("text", flat=True)).most_common(1)[0][0]
    expected = list(Sighting.objects.filter(text=text).order_by("first_seen").select_related("camera"))
    body = admin_client.get("/api/journey/", {"code": text}).json()
    visits = body["sightings"]
    assert [v["camera"] for v in visits] == [s.camera.name for s in expected]
    starts = [dt.datetime.fromisoformat(v["first_seen"].replace("Z", "+00:00")) for v in visits]
    assert starts == sorted(starts) and len(starts) == len(expected) >= 2
    assert body["last_seen"]["camera"] == expected[-1].camera.name


@pytest.mark.django_db(transaction=True)
def test_ids_continue_after_seeding_and_a_second_run_is_refused(seeded):
    camera = Camera.objects.first()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    snapshot = Snapshot.objects.create(camera=camera, scheduled_at=later, status="failed", error="timeout")
    assert snapshot.pk > Snapshot.objects.exclude(pk=snapshot.pk).order_by("-id").first().pk
    sighting = Sighting.objects.create(camera=camera, format="qr", text="NEW", first_seen=later, last_seen=later)
    assert sighting.pk > Sighting.objects.exclude(pk=sighting.pk).order_by("-id").first().pk
    with pytest.raises(CommandError, match="already have history"):
        call_command("seed_history", cameras=CAMERAS, hours=HOURS, rate=RATE, stdout=io.StringIO())
