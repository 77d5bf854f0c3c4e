"""Thin cpu tasks: they take ids and small values and call one service."""

from celery import shared_task
from django.db import OperationalError

from analytics import services


# Idempotent: a redelivered decode finds its slot already stored and writes nothing.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(OperationalError,), retry_backoff=2, retry_backoff_max=30, max_retries=10,
             soft_time_limit=20, time_limit=30)
def decode(camera_id: int, scheduled_ts: float, captured_ts: float, capture_ms: float, nbytes: int,
           formats: str = "qr", engine: str = "") -> None:
    services.snapshot_decode(
        camera_id=camera_id, scheduled_ts=scheduled_ts, captured_ts=captured_ts, capture_ms=capture_ms, nbytes=nbytes,
        formats=formats, engine=engine,
    )


@shared_task(ignore_result=True)
def prune() -> int:
    return services.snapshots_prune()
