"""The webhook tasks, here and not in pipeline/tasks.py because notify may not import pipeline.

Names are pinned like every camtrack task's (routes in ``CELERY_TASK_ROUTES``); both run on io.
"""

from celery import shared_task
from django.db import OperationalError

from camtrack.celery import RELIABLE


# The delivery id only: URL and secret are read from the database, so no message, Flower page or
# worker log shows the secret. Idempotent: a delivery done, or claimed by another attempt, is skipped.
@shared_task(name="notify.tasks.webhook_deliver", autoretry_for=(OperationalError,), **RELIABLE)
def webhook_deliver(delivery_id: int) -> str | None:
    from notify.webhooks import delivery_attempt

    outcome = delivery_attempt(delivery_id)
    if outcome is None:
        return None
    if outcome.retry_in is not None:
        # The next attempt is a new message; the row keeps next_attempt_at for the sweep and the admin.
        webhook_deliver.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


# Queues again what should have been tried minutes ago: a message lost to a broker outage, or a
# worker that died holding a delivery's lease.
@shared_task(name="notify.tasks.webhook_sweep", ignore_result=True)
def webhook_sweep() -> int:
    from notify.webhooks import deliveries_enqueue, deliveries_overdue

    overdue = deliveries_overdue()
    deliveries_enqueue(overdue)
    return len(overdue)
