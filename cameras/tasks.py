"""Thin io tasks: they take ids and small values and call one service."""

from celery import shared_task
from django.db import OperationalError

from cameras import services


@shared_task(ignore_result=True)
def dispatch_due() -> dict:
    result = services.camera_dispatch_due()
    return {"dispatched": result.dispatched, "skipped": result.skipped}


# Sources bound their own IO (the io pool is threads, where Celery time limits don't apply).
# A database outage is retried; the lease keeps the camera from being dispatched meanwhile.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(OperationalError,), retry_backoff=2, retry_backoff_max=30, max_retries=10)
def capture(camera_id: int, scheduled_ts: float) -> None:
    services.snapshot_capture(camera_id=camera_id, scheduled_ts=scheduled_ts)
