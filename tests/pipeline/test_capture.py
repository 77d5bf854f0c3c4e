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
