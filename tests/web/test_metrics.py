"""/metrics in Prometheus format: counters as the work is done, state read at scrape time, and the
workers' own exporters (multiprocess mode) agreeing with the database."""

import datetime as dt
import tempfile
import time
import urllib.request

import pytest
from django.db.models import Sum
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from cameras.models import Camera, SlotHour
from cameras.services import camera_upsert
from detections.decoders import DecodeResult
from devtools.net import free_port
from devtools.outagecheck import wait_settled
from devtools.redisserver import RedisServer
from devtools.simulator import Simulator
from pipeline.store import snapshot_store
from tests.workers import Supervised, Worker, database_url, purge_queues


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(client: Client | None = None, **headers: str) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


STORED = ("camtrack_slots_total", (("outcome", "stored"), ("reason", "")))


@pytest.mark.django_db(transaction=True)
def test_counters_follow_committed_work_and_state_is_read_at_scrape_time(camera_factory, settings):
    purge_queues()
    cams = [camera_factory(), camera_factory(enabled=False)]
    Camera.objects.filter(pk=cams[1].pk).update(status=Camera.Status.OFFLINE)
    before = scrape()
    at = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    result = DecodeResult(codes=[], width=10, height=10, ms=4.0)
    for i in range(3):
        slot = at + dt.timedelta(seconds=i)
        snapshot_store(camera_id=cams[0].pk, scheduled_at=slot, captured_at=slot, capture_ms=1, nbytes=1, result=result)
    snapshot_store(camera_id=cams[0].pk, scheduled_at=at, captured_at=at, capture_ms=1, nbytes=1, result=result)
    after = scrape()
    assert after[STORED] - before.get(STORED, 0) == 3  # the redelivered slot counts nothing
    end_to_end = ("camtrack_latency_seconds_count", (("stage", "end_to_end"),))
    assert after[end_to_end] - before.get(end_to_end, 0) == 3
    assert after[("camtrack_cameras", (("status", "online"),))] == 1  # its first store brought it online
    assert after[("camtrack_cameras", (("status", "offline"),))] == 1

    # A broker of this test's own: workers other tests started would take the tasks off the shared one.
    from kombu import Connection

    from camtrack.celery import app
    from pipeline.tasks import decode

    broker = RedisServer().start()
    try:
        with Connection(broker.url(0)) as conn:
            producer = app.amqp.Producer(conn)
            for _ in range(2):
                decode.apply_async(([],), producer=producer)
        time.sleep(1.1)
        settings.CELERY_BROKER_URL = broker.url(0)
        queued = scrape()
    finally:
        broker.close()
    assert queued[("camtrack_queue_length", (("queue", "cpu"),))] == 2
    assert 1.0 <= queued[("camtrack_queue_oldest_seconds", (("queue", "cpu"),))] < 30
    assert queued[("camtrack_frame_store_keys", ())] >= 0


def test_a_configured_token_is_required(settings):
    settings.CAMTRACK_METRICS_TOKEN = "s3cret-scrape"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = Client().get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert response.status_code == 200 and b"s3cret" not in response.content


def _worker_metrics(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return samples(response.read().decode())


@pytest.mark.django_db(transaction=True)
def test_worker_exporters_count_what_the_database_holds():
    """Real io, cpu (prefork, two processes) and beat; each worker serves its processes' metrics."""
    broker = RedisServer().start()
    sim = Simulator(port=0, cameras=6).start()
    for i in range(6):
        camera_upsert(name=f"met-{i}", url=sim.url(f"sim-{i + 1:02d}"), interval_s=0.5, timeout_s=0.4)
    common = {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker.url(0),
        "CAMTRACK_DATA_DIR": tempfile.mkdtemp(prefix="camtrack-metrics-"),
        "CAMTRACK_CPU_CONCURRENCY": "2",
        "CAMTRACK_IO_CONCURRENCY": "4",
    }
    ports = {"io": free_port(), "cpu": free_port()}
    workers = {
        name: Worker(
            name,
            {**common, "CAMTRACK_METRICS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp()},
        )
        for name, port in ports.items()
    }
    beat = None
    try:
        for w in workers.values():
            w.wait_ready()
        beat = Supervised("beat", common)
        time.sleep(8)
        beat.stop()
        wait_settled(lambda: SlotHour.objects.aggregate(n=Sum("slots"))["n"] or 0)
        totals: dict[tuple, float] = {}
        for port in ports.values():
            for key, value in _worker_metrics(port).items():
                if key[0] == "camtrack_slots_total":
                    totals[key] = totals.get(key, 0) + value
    finally:
        if beat is not None:
            beat.stop()
        for w in workers.values():
            w.stop()
        sim.stop()
        broker.close()
    in_db = {
        (("outcome", o), ("reason", r)): n
        for o, r, n in SlotHour.objects.values_list("outcome", "reason").annotate(n=Sum("slots"))
    }
    assert sum(in_db.values()) >= 60, in_db  # ~12 slots/s for 8 s
    assert {k[1]: v for k, v in totals.items() if v} == in_db


def test_the_dashboard_and_the_monitoring_profile_use_metrics_that_exist():
    import json
    import re
    from pathlib import Path

    import yaml

    from camtrack import metrics

    root = Path(__file__).resolve().parent.parent.parent
    dashboard = json.loads((root / "deploy" / "grafana" / "dashboards" / "camtrack.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    source = Path(metrics.__file__).read_text()
    for name in {m for e in exprs for m in re.findall(r"camtrack_[a-z_]+", e)}:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert f'"{base}"' in source, f"the dashboard asks for {name}, which nothing exports"
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    assert services["prometheus"]["profiles"] == ["monitoring"] == services["grafana"]["profiles"]
    scrape = yaml.safe_load((root / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert {job["job_name"] for job in scrape["scrape_configs"]} == {"camtrack-web", "camtrack-workers"}
    for worker in ("worker-io", "worker-cpu"):
        assert services[worker]["environment"]["CAMTRACK_METRICS_PORT"] == "9808"
