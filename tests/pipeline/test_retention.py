import datetime as dt

import pytest
from django.db.models import Sum

from cameras.models import SlotHour, Snapshot
from cameras.services import camera_upsert
from detections.decoders import Code, DecodeResult
from detections.models import Detection
from pipeline.retention import history_prune
from pipeline.store import StoreEntry, snapshots_store
from tracking.models import CameraMinute, Sighting

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _store(camera, at: dt.datetime, text: str) -> None:
    code = Code(format="qr", text=text, raw=None, position=[[0, 0]] * 4, engine="zxing")
    snapshots_store([StoreEntry(camera.pk, at, at, 3.0, 100, DecodeResult(codes=[code], width=64, height=64))])
    Detection.objects.filter(text=text).update(created_at=at)  # as if stored when it was captured


def test_raw_rows_go_after_their_retention_and_tracked_ones_stay_longer(settings):
    settings.CAMTRACK_SNAPSHOT_RETENTION_DAYS = settings.CAMTRACK_DETECTION_RETENTION_DAYS = 7
    settings.CAMTRACK_SIGHTING_RETENTION_DAYS = 30
    settings.CAMTRACK_PRUNE_ROWS_PER_S = 0
    camera, _ = camera_upsert(name="ret", url="http://127.0.0.1:9/r.jpg")
    for days, text in ((40, "ANCIENT"), (10, "OLD"), (1, "NEW")):
        _store(camera, NOW - dt.timedelta(days=days), text)
    result = history_prune(now=NOW)
    assert result.done and (result.detections, result.snapshots, result.sightings, result.minutes) == (2, 2, 1, 1)
    assert list(Detection.objects.values_list("text", flat=True)) == ["NEW"]
    assert Snapshot.objects.count() == 1
    assert sorted(Sighting.objects.values_list("text", flat=True)) == ["NEW", "OLD"]  # a month of sightings
    assert CameraMinute.objects.count() == 2
    # Slot accounting stays as long as the counts it explains.
    assert result.slot_hours == 1 and SlotHour.objects.filter(camera=camera).aggregate(n=Sum("slots"))["n"] == 2


def test_a_run_stops_at_its_budget_and_the_next_carries_on(settings):
    settings.CAMTRACK_PRUNE_ROWS_PER_S = 0
    camera, _ = camera_upsert(name="ret2", url="http://127.0.0.1:9/r.jpg")
    for minute in range(3):
        _store(camera, NOW - dt.timedelta(days=30, minutes=minute), f"X-{minute}")
    first = history_prune(now=NOW, budget_s=0.0)
    assert not first.done and Detection.objects.count() == 3
    assert history_prune(now=NOW).done and Detection.objects.count() == 0


def _store_result(camera, at: dt.datetime, result: DecodeResult) -> None:
    snapshots_store([StoreEntry(camera.pk, at, at, 3.0, 100, result)])


def test_quiet_snapshots_go_after_an_hour_and_the_others_stay(settings):
    from pipeline import framestore
    from pipeline.retention import QUIET_MARK

    settings.CAMTRACK_PRUNE_ROWS_PER_S = 0
    settings.CAMTRACK_QUIET_SNAPSHOT_KEEP_S = 3600
    settings.CELERY_VISIBILITY_TIMEOUT = 900
    framestore.client().delete(QUIET_MARK)
    camera, _ = camera_upsert(name="quiet", url="http://127.0.0.1:9/q.jpg")
    code = Code(format="qr", text="KEPT", raw=None, position=[[0, 0]] * 4, engine="zxing")
    kinds = {
        "quiet": DecodeResult(width=64, height=64, gated=True),
        "gated with a code": DecodeResult(codes=[code], width=64, height=64, gated=True),
        "gated no-read": DecodeResult(width=64, height=64, gated=True, no_read=True),
        "decoded, empty": DecodeResult(width=64, height=64),
    }
    for minutes in (30, 90, 300):
        for i, result in enumerate(kinds.values()):
            _store_result(camera, NOW - dt.timedelta(minutes=minutes, seconds=i), result)
    assert Snapshot.objects.filter(quiet=True).count() == 3  # only the unchanged, empty frames
    result = history_prune(now=NOW)
    assert result.done and result.quiet == 2 and result.snapshots == 0
    left = Snapshot.objects.filter(quiet=True).values_list("scheduled_at", flat=True)
    assert list(left) == [NOW - dt.timedelta(minutes=30)]  # the last hour's stay
    assert Snapshot.objects.filter(quiet=False).count() == 9
    # Counts kept all of them; the next run reads only what fell due since.
    assert SlotHour.objects.filter(camera=camera).aggregate(n=Sum("slots"))["n"] == 12
    assert float(framestore.client().get(QUIET_MARK)) == (NOW - dt.timedelta(hours=1)).timestamp()
    assert history_prune(now=NOW + dt.timedelta(minutes=31)).quiet == 1


def test_quiet_snapshots_outlive_the_brokers_redelivery(settings):
    from pipeline import framestore
    from pipeline.retention import QUIET_MARK

    settings.CAMTRACK_PRUNE_ROWS_PER_S = 0
    settings.CAMTRACK_QUIET_SNAPSHOT_KEEP_S = 60  # shorter than a redelivered task could still come
    settings.CELERY_VISIBILITY_TIMEOUT = 900
    framestore.client().delete(QUIET_MARK)
    camera, _ = camera_upsert(name="quiet2", url="http://127.0.0.1:9/q.jpg")
    _store_result(camera, NOW - dt.timedelta(minutes=10), DecodeResult(width=64, height=64, gated=True))
    # Kept the visibility timeout plus five minutes: 20 minutes, not one.
    assert history_prune(now=NOW).quiet == 0
    assert history_prune(now=NOW + dt.timedelta(minutes=9)).quiet == 0
    assert history_prune(now=NOW + dt.timedelta(minutes=11)).quiet == 1


def test_a_lost_mark_starts_a_day_back_and_older_quiet_rows_wait_for_the_snapshot_retention(settings):
    from pipeline import framestore
    from pipeline.retention import QUIET_MARK

    settings.CAMTRACK_PRUNE_ROWS_PER_S = 0
    settings.CAMTRACK_QUIET_SNAPSHOT_KEEP_S = 3600
    settings.CAMTRACK_SNAPSHOT_RETENTION_DAYS = 7
    camera, _ = camera_upsert(name="quiet3", url="http://127.0.0.1:9/q.jpg")
    for days in (3, 0.5):
        _store_result(camera, NOW - dt.timedelta(days=days), DecodeResult(width=64, height=64, gated=True))
    framestore.client().delete(QUIET_MARK)  # as after a frame store restarted empty
    assert history_prune(now=NOW).quiet == 1
    assert list(Snapshot.objects.values_list("scheduled_at", flat=True)) == [NOW - dt.timedelta(days=3)]
    assert history_prune(now=NOW + dt.timedelta(days=5)).snapshots == 1
