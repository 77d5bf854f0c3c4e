"""Prometheus metrics of every process, and the collectors /metrics reads at scrape time.

Counters and histograms are written by whichever process does the work (io threads, cpu pool
processes, web workers). With ``PROMETHEUS_MULTIPROC_DIR`` set (the launcher and the compose file set
it; it must be set before this module is first imported, and emptied when the process group starts),
every process of a host writes its values there and one scrape aggregates them all:
https://prometheus.github.io/client_python/multiprocess/

What is a state rather than an event (cameras by status, queue lengths, the age of the oldest waiting
task, the frame store's size) is read from PostgreSQL and Redis when scraped.
"""

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

SLOTS = Counter(
    "camtrack_slots",
    "Due slots by how they ended: stored, failed (reason: error class) or skipped (reason: why)",
    ["outcome", "reason"],
)
DETECTIONS = Counter("camtrack_detections", "Codes stored (one per code per frame)")
SIGHTINGS_OPENED = Counter("camtrack_sightings_opened", "Sightings begun")
GATED = Counter("camtrack_frames_gated", "Frames stored without decoding again: the picture had not changed")
# From 10 ms to a minute: captures and waits are short, a backlog or an outage shows in the tail.
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LATENCY = Histogram(
    "camtrack_latency_seconds",
    "Seconds per stage: capture (grab), wait (captured to decoding), decode, store (a batch's write), "
    "end_to_end (due time to stored)",
    ["stage"],
    buckets=_BUCKETS,
)

QUEUES = ("io", "cpu")
# kombu's Redis transport keeps a priority's messages in "<queue>\x06\x16<priority>" next to the queue.
_PRIORITY_SEP = "\x06\x16"
SENT_HEADER = "camtrack_sent"


def registry(*, state: bool = True) -> CollectorRegistry:
    """What one scrape shows: every process's counters (of this host), plus the state read now."""
    reg = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(reg)
    else:
        for metric in (SLOTS, DETECTIONS, SIGHTINGS_OPENED, GATED, LATENCY):
            reg.register(metric)
    if state:
        reg.register(StateCollector())
    return reg


def slots_counted(*, outcome: str, counts: dict[str, int]) -> None:
    for reason, n in counts.items():
        SLOTS.labels(outcome, reason).inc(n)


class StateCollector(Collector):
    """Cameras by status, queue lengths and oldest task age, frame-store size: read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from _cameras()
        yield from _queues()
        yield from _frame_store()


def _cameras() -> Iterable[GaugeMetricFamily]:
    from cameras.selectors import camera_status_counts

    family = GaugeMetricFamily("camtrack_cameras", "Enabled and disabled cameras by status", labels=["status"])
    try:
        for status, n in camera_status_counts().items():
            family.add_metric([status], n)
    except Exception as exc:  # the database down: the scrape still answers, without this family
        logger.warning("metrics: cannot count cameras: %s", exc)
        return
    yield family


def _oldest_age(client, queue: str, now: float) -> float:
    # kombu LPUSHes and consumers BRPOP: the oldest waiting message is the list's last element.
    raw = client.lindex(queue, -1)
    if raw is None:
        return 0.0
    try:
        sent = float(json.loads(raw)["headers"][SENT_HEADER])
    except (ValueError, KeyError, TypeError):
        return 0.0
    return max(0.0, now - sent)


def _queues() -> Iterable[GaugeMetricFamily]:
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return
    import redis

    length = GaugeMetricFamily("camtrack_queue_length", "Tasks waiting in the broker", labels=["queue"])
    age = GaugeMetricFamily(
        "camtrack_queue_oldest_seconds", "Age of the oldest task waiting in the broker", labels=["queue"]
    )
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        now = time.time()
        for queue in QUEUES:
            names = [queue, *(f"{queue}{_PRIORITY_SEP}{p}" for p in range(1, 10))]
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.llen(name)
            length.add_metric([queue], sum(pipe.execute()))
            age.add_metric([queue], max(_oldest_age(client, name, now) for name in names))
    except redis.RedisError as exc:
        logger.warning("metrics: cannot read the queues: %s", exc)
        return
    yield length
    yield age


def _frame_store() -> Iterable[GaugeMetricFamily]:
    import redis
    from django.conf import settings

    try:
        client = redis.Redis.from_url(settings.CAMTRACK_FRAME_STORE_URL, socket_timeout=2, socket_connect_timeout=2)
        keys, used = client.dbsize(), client.info("memory")["used_memory"]
    except Exception as exc:
        logger.warning("metrics: cannot read the frame store: %s", exc)
        return
    family = GaugeMetricFamily("camtrack_frame_store_keys", "Keys in the frame store's Redis database")
    family.add_metric([], keys)
    yield family
    family = GaugeMetricFamily("camtrack_frame_store_bytes", "Memory the frame store's Redis uses")
    family.add_metric([], used)
    yield family
