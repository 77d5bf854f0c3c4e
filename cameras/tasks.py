"""Thin io tasks: they take ids and small values and call one service."""

from celery import shared_task, signals
from django.db import OperationalError

from cameras import capture as capture_stage
from cameras import services
from camtrack.celery import RELIABLE


@shared_task(ignore_result=True)
def dispatch_due() -> dict:
    result = services.camera_dispatch_due()
    return {"dispatched": result.dispatched, "skipped": result.skipped}


# items: [[camera_id, due unix time], ...]. Sources bound their own IO (the io pool is threads,
# where Celery time limits don't apply). A database outage is retried; the lease keeps the
# cameras from being dispatched meanwhile.
@shared_task(autoretry_for=(OperationalError,), **RELIABLE)
def capture(items: list[list]) -> None:
    capture_stage.snapshots_capture(items=items)


@signals.task_revoked.connect
def on_capture_expired(sender=None, request=None, expired: bool = False, **kwargs: object) -> None:
    # Celery drops an expired task without running it; the cameras it held must be freed.
    if expired and getattr(sender, "name", "") == capture.name and request is not None and request.args:
        services.captures_dropped(items=request.args[0])
