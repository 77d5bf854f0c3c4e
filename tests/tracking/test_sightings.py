"""Sightings and counts through the real store path: the writes a cpu worker makes."""

import datetime as dt
import threading

import pytest
from django.db import connection

from cameras.services import camera_upsert
from detections.decoders import Code, DecodeResult
from pipeline.store import StoreEntry, snapshots_store
from tracking.models import CameraMinute, Sighting
from tracking.services import sightings_close_stale

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def _code(text: str, x: int = 10) -> Code:
    return Code(format="qr", text=text, raw=None, position=[[x, 0], [x + 5, 0], [x + 5, 5], [x, 5]], engine="zxing")


def _entry(camera_id: int, second: float, *texts: str, no_read: bool = False) -> StoreEntry:
    at = T0 + dt.timedelta(seconds=second)
    result = DecodeResult(codes=[_code(t, i * 10) for i, t in enumerate(texts)], width=640, height=480, no_read=no_read)
    return StoreEntry(camera_id, at, at + dt.timedelta(milliseconds=30), 5.0, 1000, result)


@pytest.fixture
def dock(db):
    camera, _ = camera_upsert(name="dock-1", url="http://127.0.0.1:9/a.jpg", interval_s=1.0, zone="dock")
    return camera


def _sightings(camera) -> list[tuple[str, float, float, int]]:
    return [
        (s.text, (s.first_seen - T0).total_seconds(), (s.last_seen - T0).total_seconds(), s.frames)
        for s in Sighting.objects.filter(camera=camera).order_by("first_seen", "text")
    ]


@pytest.mark.django_db
def test_consecutive_frames_extend_one_sighting_and_a_gap_starts_another(dock):
    assert dock.gap_s == 5.0  # max(3 x 1 s, 5 s)
    for second in range(5):
        snapshots_store([_entry(dock.pk, second, "P-1")])
    snapshots_store([_entry(dock.pk, 4 + 5.5, "P-1")])  # unseen longer than the gap: a new visit
    assert _sightings(dock) == [("P-1", 0.03, 4.03, 5), ("P-1", 9.53, 9.53, 1)]
    first, second = Sighting.objects.filter(camera=dock).order_by("first_seen")
    assert first.ended_at is not None and second.ended_at is None
    assert first.zone.name == "dock" and first.dwell_s == 4.0


@pytest.mark.django_db
def test_several_codes_in_one_frame_each_get_their_own_sighting(dock):
    snapshots_store([_entry(dock.pk, 0, "A", "B")])
    snapshots_store([_entry(dock.pk, 1, "B", "C", "C")])  # a code twice in a frame counts once
    assert _sightings(dock) == [("A", 0.03, 0.03, 1), ("B", 0.03, 1.03, 2), ("C", 1.03, 1.03, 1)]


@pytest.mark.django_db
def test_frames_stored_out_of_order_and_twice_count_once(dock):
    entries = [_entry(dock.pk, s, "P-2") for s in (0, 1, 2, 3)]
    snapshots_store([entries[2]])
    snapshots_store([entries[0]])
    snapshots_store([entries[3], entries[1]])
    snapshots_store([entries[1], entries[2]])  # a redelivered decode task: nothing is counted again
    assert _sightings(dock) == [("P-2", 0.03, 3.03, 4)]
    minute = CameraMinute.objects.get(camera=dock)
    assert (minute.frames, minute.reads, minute.sightings) == (4, 4, 1)


@pytest.mark.django_db
def test_minutes_count_frames_reads_no_reads_and_new_sightings(dock):
    snapshots_store([_entry(dock.pk, 0, "X"), _entry(dock.pk, 59.9)])
    snapshots_store([_entry(dock.pk, 30, no_read=True), _entry(dock.pk, 61, "X", "Y")])
    rows = {
        (m.start - T0).total_seconds(): (m.frames, m.reads, m.no_reads, m.sightings, m.zone.name)
        for m in CameraMinute.objects.filter(camera=dock)
    }
    # X at 61 s comes back after its gap: a second visit; Y is new.
    assert rows == {0.0: (3, 1, 1, 1, "dock"), 60.0: (1, 1, 0, 2, "dock")}


@pytest.mark.django_db
def test_the_sweep_ends_sightings_unseen_for_their_gap_only(dock):
    fast, _ = camera_upsert(name="fast", url="http://127.0.0.1:9/b.jpg", interval_s=1.0, sighting_gap_s=2.0)
    snapshots_store([_entry(dock.pk, 0, "D"), _entry(fast.pk, 0, "F")])
    ended = sightings_close_stale(now=T0 + dt.timedelta(seconds=3))
    assert [s.text for s in ended] == ["F"]
    assert Sighting.objects.get(text="D").ended_at is None
    sightings_close_stale(now=T0 + dt.timedelta(seconds=6))
    assert Sighting.objects.get(text="D").ended_at == T0 + dt.timedelta(seconds=6)
    # A late frame inside the gap widens the ended sighting and opens it again, rather than splitting the visit.
    snapshots_store([_entry(dock.pk, 4, "D")])
    assert _sightings(dock) == [("D", 0.03, 4.03, 2)]
    assert Sighting.objects.get(text="D").ended_at is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row-level concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_workers_storing_one_cameras_frames_at_once_make_one_exact_sighting():
    camera, _ = camera_upsert(name="race", url="http://127.0.0.1:9/r.jpg", interval_s=1.0)
    frames = [_entry(camera.pk, s, "RACE-1", f"RACE-{s % 3}") for s in range(40)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(part: list[StoreEntry]) -> None:
        try:
            barrier.wait()
            for entry in part:
                snapshots_store([entry])
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(frames[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # Every frame shows RACE-1; every third shows RACE-0 or RACE-2 beside it (RACE-1 twice counts once).
    expected = {
        "RACE-0": (0.03, 39.03, len(range(0, 40, 3))),
        "RACE-1": (0.03, 39.03, 40),
        "RACE-2": (2.03, 38.03, len(range(2, 40, 3))),
    }
    assert {text: (first, last, n) for text, first, last, n in _sightings(camera)} == expected
    assert Sighting.objects.filter(camera=camera, ended_at__isnull=True).count() == 3
    assert CameraMinute.objects.get(camera=camera).frames == 40
