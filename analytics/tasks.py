"""Thin cpu tasks: they take ids and small values and call one service."""

from celery import shared_task
from django.db import OperationalError

from analytics import services
from camtrack.celery import RELIABLE


# items: [[camera_id, slot, captured_ts, capture_ms, nbytes, formats, engine, roi, downscale], ...].
# Idempotent: a redelivered decode finds its slots already stored and writes nothing twice.
@shared_task(autoretry_for=(OperationalError,), soft_time_limit=30, time_limit=45, **RELIABLE)
def decode(items: list[list]) -> int:
    return services.snapshots_decode(items=items)


@shared_task(ignore_result=True)
def prune() -> int:
    return services.snapshots_prune()
