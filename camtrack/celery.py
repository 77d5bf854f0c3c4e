"""The one Celery app; configuration comes from Django settings under the CELERY_ namespace."""

import logging
import os
import time

from celery import Celery, signals
from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Queue

logger = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "camtrack.settings")

# Options of the tasks that must not lose work: acknowledged after they ran, re-delivered when their
# worker dies (so they must be idempotent), retried through a database outage.
RELIABLE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "retry_backoff": 2,
    "retry_backoff_max": 30,
    "max_retries": 10,
}

app = Celery("camtrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("io", "cpu")]
# Celery's Django fixup closes the database connection around every task unless told to
# reuse it; reconnecting per task was measured as the largest single cost of the pipeline.
app.conf.CELERY_DB_REUSE_MAX = 1_000_000
app.conf.worker_consumer = "camtrack.celery:Consumer"
app.autodiscover_tasks()


class Consumer(CeleryConsumer):
    """Celery's consumer, surviving a broker restart while it holds unacknowledged tasks.

    When the broker connection breaks, Celery first collects the connection (which can fail half way,
    leaving its channel open but its transport without a client) and then closes it; the close tries to
    give back the unacknowledged messages through that transport and raises AttributeError ("'NoneType'
    object has no attribute 'hostname'" from kombu's restore_unacked), which Celery treats as
    unrecoverable: the worker exits. The broker is down at that moment anyway, so nothing could be given
    back; the messages stay in the broker's unacknowledged set and return after the visibility timeout.
    Carrying on lets the consumer reconnect at once.

    The same stale transport fails a task's acknowledgement that arrives after the reconnect (a thread
    of the io pool finishing a task it took before): that AttributeError counts as a connection error
    here, so the ack is logged as failed (the message comes back after the visibility timeout and its
    task, idempotent, finds its work done) and the consumer reconnects instead of exiting.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.connection_errors = (*self.connection_errors, AttributeError)

    def on_connection_error_after_connected(self, exc: BaseException) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as close_error:
            logger.warning("broker connection closed uncleanly (%s); reconnecting", close_error)


@signals.worker_init.connect
def _serve_metrics(**kwargs: object) -> None:
    # In the worker's main process, before a prefork pool forks: its children write to the shared
    # multiprocess folder, which this server reads at every scrape.
    from django.conf import settings

    if settings.CAMTRACK_METRICS_PORT:
        from prometheus_client import start_http_server

        from camtrack.metrics import registry

        start_http_server(
            settings.CAMTRACK_METRICS_PORT, addr=settings.CAMTRACK_METRICS_BIND, registry=registry(state=False)
        )


@signals.before_task_publish.connect
def _stamp_sent(headers: dict | None = None, **kwargs: object) -> None:
    # When a task entered the broker: /metrics reports the age of the oldest one still waiting.
    from camtrack.metrics import SENT_HEADER

    if headers is not None:
        headers.setdefault(SENT_HEADER, time.time())


@signals.task_prerun.connect
def _drop_broken_connections(**kwargs: object) -> None:
    # With connections reused, one that broke (database restarted) or outlived
    # CONN_MAX_AGE must still be dropped before the next task uses it.
    from django.db import close_old_connections

    close_old_connections()
