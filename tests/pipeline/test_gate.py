"""The change gate: an unchanged picture (sensor noise and re-encoding aside) is not decoded again and
its codes carry forward; a code appearing, moving or leaving anywhere is decoded; so is one frame
every CAMTRACK_GATE_FULL_EVERY_S. Through the real decode stage, frame store and database."""

import datetime as dt

import numpy as np
import pytest

from cameras.models import Snapshot
from devtools.framegen import background, jpeg, place, qr_matrix
from pipeline import framestore, gate
from pipeline.decode import snapshots_decode
from pipeline.messages import FrameReady
from tests.factories import CameraFactory
from tracking.models import CameraMinute, Sighting

pytestmark = pytest.mark.django_db
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0).timestamp()


def picture(codes: list[tuple[str, tuple[float, float], float]], *, seed: int, quality: int = 80) -> bytes:
    """The same scene every time, with this frame's own sensor noise, and codes (text, centre, module px)."""
    frame = background(seed=42).astype(np.float32)
    frame += np.random.default_rng(seed).normal(0, 3, frame.shape).astype(np.float32)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    for text, (cx, cy), module_px in codes:
        place(frame, qr_matrix(text), center=(cx * 1280, cy * 720), module_px=module_px)
    return jpeg(frame, quality)


def decode(camera, data: bytes, slot: float) -> Snapshot:
    key = framestore.frame_key(camera.pk, slot)
    framestore.frames_put({key: data})
    ready = FrameReady(
        camera_id=camera.pk,
        slot=slot,
        captured_ts=slot + 0.05,
        capture_ms=10.0,
        nbytes=len(data),
        formats=camera.formats,
        roi=camera.roi,
        gate=camera.change_gate,
    )
    assert snapshots_decode(frames=[ready]) == 1
    return Snapshot.objects.get(camera=camera, scheduled_at=dt.datetime.fromtimestamp(slot, tz=dt.UTC))


def gated_frames(camera) -> int:
    return sum(CameraMinute.objects.filter(camera=camera).values_list("gated", flat=True))


def _gated_metric() -> float:
    from camtrack.metrics import registry

    return registry(state=False).get_sample_value("camtrack_frames_gated_total") or 0.0


@pytest.fixture
def camera():
    camera = CameraFactory(name=f"gate-{np.random.default_rng().integers(1e9)}", interval_s=1.0)
    gate.frame_store().delete(f"camtrack:gate:{camera.pk}")
    return camera


def test_an_unchanged_picture_is_not_decoded_again_and_its_code_goes_on(camera, django_capture_on_commit_callbacks):
    parcel = [("PARCEL-GATE-1", (0.3, 0.4), 4.0)]
    before = _gated_metric()
    with django_capture_on_commit_callbacks(execute=True):  # metrics count what committed
        decode(camera, picture(parcel, seed=1), T0)
        for i in range(1, 6):  # new noise each frame, and a different JPEG quality for two of them
            decode(camera, picture(parcel, seed=1 + i, quality=80 if i % 3 else 70), T0 + i)
    assert gated_frames(camera) == 5
    assert _gated_metric() - before == 5  # camtrack_frames_gated_total
    minute = CameraMinute.objects.filter(camera=camera)
    assert sum(m.frames for m in minute) == 6 and sum(m.reads for m in minute) == 6
    sighting = Sighting.objects.get(camera=camera, text="PARCEL-GATE-1")
    assert sighting.frames == 6 and sighting.ended_at is None
    assert (sighting.last_seen - sighting.first_seen).total_seconds() == pytest.approx(5.0)
    # Every frame still has its snapshot and detections: what a gated frame holds is known.
    assert Snapshot.objects.filter(camera=camera).count() == 6
    assert all(s.detections.count() == 1 for s in Snapshot.objects.filter(camera=camera))


@pytest.mark.parametrize(
    "change",
    [
        [("SMALL-7", (0.92, 0.9), 2.0)],  # a small code appears in a corner
        [("PARCEL-GATE-2", (0.3, 0.4), 4.0), ("SMALL-7", (0.1, 0.1), 2.0)],  # a second one appears
        [("PARCEL-GATE-2", (0.36, 0.4), 4.0)],  # the code moves by 77 px
        [],  # the code leaves
    ],
    ids=["appears", "second", "moves", "leaves"],
)
def test_a_code_appearing_moving_or_leaving_anywhere_is_decoded(camera, change):
    before = [("PARCEL-GATE-2", (0.3, 0.4), 4.0)]
    decode(camera, picture(before, seed=1), T0)
    decode(camera, picture(before, seed=2), T0 + 1)
    assert gated_frames(camera) == 1
    decode(camera, picture(change, seed=3), T0 + 2)
    assert gated_frames(camera) == 1, "the changed frame was gated"
    last = Snapshot.objects.get(camera=camera, scheduled_at=dt.datetime.fromtimestamp(T0 + 2, tz=dt.UTC))
    assert sorted(d.text for d in last.detections.all()) == sorted(text for text, _, _ in change)


def test_an_empty_scene_is_gated_too_and_a_full_decode_comes_at_least_every_n_seconds(camera, settings):
    settings.CAMTRACK_GATE_FULL_EVERY_S = 3.0
    for i in range(8):
        decode(camera, picture([], seed=10 + i), T0 + i)
    # Decoded at 0, 3 and 6: five of eight gated.
    assert gated_frames(camera) == 5
    assert CameraMinute.objects.filter(camera=camera).first().reads == 0


def test_a_frame_older_than_the_reference_is_decoded(camera):
    scene = [("PARCEL-GATE-3", (0.5, 0.5), 4.0)]
    decode(camera, picture(scene, seed=1), T0 + 5)
    decode(camera, picture(scene, seed=2), T0 + 4)  # a late frame from another worker
    assert gated_frames(camera) == 0


def test_the_gate_is_per_camera_and_can_be_turned_off(camera, settings):
    camera.change_gate = False
    camera.save()
    scene = [("PARCEL-GATE-4", (0.5, 0.5), 4.0)]
    for i in range(3):
        decode(camera, picture(scene, seed=i), T0 + i)
    assert gated_frames(camera) == 0
    settings.CAMTRACK_GATE_FULL_EVERY_S = 0  # off everywhere
    other = CameraFactory(name="gate-off-everywhere")
    for i in range(3):
        decode(other, picture(scene, seed=i), T0 + i)
    assert gated_frames(other) == 0


def test_the_decode_region_is_what_counts(camera):
    camera.roi = "0,0,640,720"  # the left half only
    camera.save()
    decode(camera, picture([("LEFT-1", (0.25, 0.5), 4.0)], seed=1), T0)
    # A code appearing outside the region changes nothing the decoder would see.
    decode(camera, picture([("LEFT-1", (0.25, 0.5), 4.0), ("RIGHT-9", (0.75, 0.5), 4.0)], seed=2), T0 + 1)
    assert gated_frames(camera) == 1
    last = Snapshot.objects.get(camera=camera, scheduled_at=dt.datetime.fromtimestamp(T0 + 1, tz=dt.UTC))
    assert [d.text for d in last.detections.all()] == ["LEFT-1"]


def test_a_moving_scene_skips_the_check_until_a_frame_comes_out_unchanged(camera, monkeypatch):
    checks = []
    real = gate.thumbnail
    monkeypatch.setattr(gate, "thumbnail", lambda data, roi: checks.append(1) or real(data, roi))
    a, b = [("MOVE-A", (0.3, 0.4), 4.0)], [("MOVE-A", (0.6, 0.4), 4.0)]
    decode(camera, picture(a, seed=1), T0)  # the first frame: decoded, nothing to compare with
    decode(camera, picture(a, seed=2), T0 + 1)  # checked: unchanged, gated
    decode(camera, picture(b, seed=3), T0 + 2)  # checked: the code moved, decoded
    assert (gated_frames(camera), len(checks)) == (1, 2)
    # The camera is moving now: its next frame is decoded without a check; it comes out unchanged...
    fourth = decode(camera, picture(b, seed=4), T0 + 3)
    assert (gated_frames(camera), len(checks)) == (1, 2)
    assert [d.text for d in fourth.detections.all()] == ["MOVE-A"]
    # ... so the one after is checked again, and gated.
    decode(camera, picture(b, seed=5), T0 + 4)
    assert (gated_frames(camera), len(checks)) == (2, 3)


@pytest.mark.parametrize("downscale", [1, 2, 8])
def test_a_thumbnail_taken_from_the_full_picture_matches_the_one_jpeg_scaling_gives(downscale):
    from detections.decoders import to_gray

    data = picture([("THUMB-1", (0.4, 0.5), 4.0)], seed=7)
    scaled = gate.thumbnail(data, (64, 48, 640, 480))
    derived = gate.thumbnail_of(to_gray(data, downscale=downscale), downscale=downscale, roi=(64, 48, 640, 480))
    assert derived.shape == scaled.shape == (60, 80)
    assert not gate.changed(derived, scaled)
    assert int(np.abs(derived.astype(int) - scaled.astype(int)).max()) <= 4


def test_codes_that_moved_say_the_picture_changed_without_a_thumbnail(camera, monkeypatch):
    taken = []
    real = gate.thumbnail_of
    monkeypatch.setattr(gate, "thumbnail_of", lambda image, **kw: taken.append(1) or real(image, **kw))
    a, b, c = ([("RUN-1", (x, 0.5), 4.0)] for x in (0.3, 0.5, 0.7))
    decode(camera, picture(a, seed=1), T0)  # the first frame: its thumbnail is the reference's
    decode(camera, picture(b, seed=2), T0 + 1)  # checked (JPEG thumbnail): changed, decoded, now moving
    decode(camera, picture(c, seed=3), T0 + 2)  # moving: decoded; the code moved, so no thumbnail
    assert (gated_frames(camera), len(taken)) == (0, 1)
    assert not gate.references_get({camera.pk})[camera.pk].has_thumb
    # The same code in the same place: the thumbnail is taken, and the next frame can be gated again.
    decode(camera, picture(c, seed=4), T0 + 3)
    assert (gated_frames(camera), len(taken)) == (0, 2)
    last = decode(camera, picture(c, seed=5), T0 + 4)
    assert gated_frames(camera) == 1
    assert [d.text for d in last.detections.all()] == ["RUN-1"]


def test_a_code_found_elsewhere_or_another_code_is_not_the_same():
    from detections.decoders import Code, DecodeResult

    def result(*codes):
        return DecodeResult(
            codes=[Code(format="qr", text=t, raw=None, position=q, engine="zxing") for t, q in codes],
            width=1280,
            height=720,
            ms=1.0,
        )

    quad = [[100, 100], [200, 100], [200, 200], [100, 200]]
    jitter = [[x + 2, y - 1] for x, y in quad]
    moved = [[x + 9, y] for x, y in quad]
    held = gate.result_dict(result(("A", quad), ("B", moved)))
    assert gate.same_codes(result(("B", moved), ("A", jitter)), held)
    assert not gate.same_codes(result(("A", moved), ("B", moved)), held)
    assert not gate.same_codes(result(("A", quad)), held)
    assert not gate.same_codes(result(("A", quad), ("C", moved)), held)
