import time

import pytest
from celery import signals

from cameras.models import Snapshot
from cameras.services import camera_upsert
from pipeline.capture import snapshots_capture
from pipeline.messages import CaptureSlot
from tests.workers import purge_queues

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_slow_batch_mate_does_not_hold_back_the_others_frames(simulator):
    simulator.set_payload("good", "GOOD-1")
    good, _ = camera_upsert(name="good", url=simulator.url("good"), timeout_s=3.0)
    hang, _ = camera_upsert(name="hang", url=simulator.fault_url("hang"), timeout_s=3.0)
    published: list[tuple[float, list]] = []

    def record(sender=None, body=None, **kwargs) -> None:
        if sender == "analytics.tasks.decode":
            published.append((time.monotonic(), body[0][0]))

    signals.before_task_publish.connect(record)
    purge_queues()
    start = time.monotonic()
    try:
        sent = snapshots_capture(slots=[CaptureSlot(good.pk, 1000.0), CaptureSlot(hang.pk, 1000.0)])
    finally:
        signals.before_task_publish.disconnect(record)
        purge_queues()
    assert sent == 1
    assert len(published) == 1 and [item["camera_id"] for item in published[0][1]] == [good.pk]
    assert published[0][0] - start < 1.5  # long before the hanging camera's 3 s timeout
    assert Snapshot.objects.get(camera=hang).error == "timeout"


def test_a_batch_of_http_cameras_ends_each_with_its_own_outcome(simulator, tmp_path, settings):
    """A batch's HTTP cameras share one hand-over to the HTTP loop; a file camera in the same batch is
    grabbed from the thread pool. Each ends with its own frame or error class, none lost."""
    from devtools.framegen import qr_frame
    from devtools.net import free_port

    simulator.set_payload("ok-1", "BATCH-1")
    simulator.set_payload("ok-2", "BATCH-2")
    settings.CAMTRACK_FILE_ROOT = str(tmp_path)
    picture = tmp_path / "still.jpg"
    picture.write_bytes(qr_frame("BATCH-FILE"))
    cameras = {
        "ok-1": simulator.url("ok-1"),
        "ok-2": simulator.url("ok-2"),
        "html": simulator.fault_url("html"),
        "500": simulator.fault_url("500"),
        "refused": f"http://127.0.0.1:{free_port()}/snap.jpg",
        "file": picture.as_uri(),
    }
    ids = {name: camera_upsert(name=f"batch-{name}", url=url, timeout_s=3.0)[0].pk for name, url in cameras.items()}
    purge_queues()
    try:
        sent = snapshots_capture(slots=[CaptureSlot(camera_id, 2000.0) for camera_id in ids.values()])
    finally:
        purge_queues()
    assert sent == 3  # ok-1, ok-2 and the file camera
    errors = dict(Snapshot.objects.filter(camera_id__in=ids.values()).values_list("camera__name", "error"))
    assert errors == {"batch-html": "not_an_image", "batch-500": "http_500", "batch-refused": "refused"}
