"""The one Celery app; configuration comes from Django settings under the CELERY_ namespace."""

import os

from celery import Celery, signals
from kombu import Queue

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
app.autodiscover_tasks()


@signals.task_prerun.connect
def _drop_broken_connections(**kwargs: object) -> None:
    # With connections reused, one that broke (database restarted) or outlived
    # CONN_MAX_AGE must still be dropped before the next task uses it.
    from django.db import close_old_connections

    close_old_connections()
