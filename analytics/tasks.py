"""Thin cpu tasks: they take ids and small values and call one service."""

from celery import shared_task
from django.db import OperationalError

from analytics import services


# items: [[camera_id, slot, captured_ts, capture_ms, nbytes, formats, engine, roi, downscale], ...].
# Idempotent: a redelivered decode finds its slots already stored and writes nothing twice.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=10,
    soft_time_limit=30,
    time_limit=45,
)
def decode(items: list[list]) -> int:
    return services.snapshots_decode(items=items)


@shared_task(ignore_result=True)
def prune() -> int:
    return services.snapshots_prune()
