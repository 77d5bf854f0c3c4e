"""RabbitMQ as the broker: the same workers and dispatch, frames still through Redis."""

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from cameras.services import camera_upsert
from detections.models import Detection
from tests.workers import ROOT, Worker, database_url

AMQP_URL = os.environ.get("CAMTRACK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")

pytestmark = pytest.mark.django_db(transaction=True)


def _rabbitmq_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _rabbitmq_up() and not os.environ.get("CI"), reason="no RabbitMQ on 127.0.0.1:5672")
def test_pipeline_runs_on_rabbitmq(simulator):
    env = {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": AMQP_URL,
        "CAMTRACK_FRAME_STORE_URL": settings.CAMTRACK_FRAME_STORE_URL,
        "CAMTRACK_CPU_CONCURRENCY": "1",
        "CAMTRACK_IO_CONCURRENCY": "4",
        "CAMTRACK_NODE": "amqp",
    }
    text = f"AMQP-{uuid.uuid4()}"
    simulator.set_payload("amqp-cam", text)
    camera_upsert(name="amqp-cam", url=simulator.url("amqp-cam"), interval_s=1.0, timeout_s=3.0)
    workers = [Worker(name, env) for name in ("io", "cpu")]
    try:
        for w in workers:
            w.wait_ready()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not Detection.objects.filter(text=text).exists():
            out = subprocess.run(
                [sys.executable, "manage.py", "dispatch_due", "--json"],
                cwd=ROOT,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert out.returncode == 0, out.stderr[-2000:]
            time.sleep(1)
        assert Detection.objects.filter(camera__name="amqp-cam", text=text).exists(), workers[0].output()[-3000:]
    finally:
        for w in workers:
            w.stop()
