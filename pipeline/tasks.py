"""Every Celery task of camtrack, thin: each takes ids and small values and calls one stage.

Task names are pinned to the names they had when first deployed, so messages already queued, routes
(``CELERY_TASK_ROUTES`` in settings) and monitoring keep working whatever module holds the code.
"""

from celery import shared_task, signals
from django.db import OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from camtrack.celery import RELIABLE

# A database, broker or frame-store outage: the task is retried with backoff rather than dropped.
OUTAGES = (OperationalError, BrokerError, RedisConnectionError, RedisTimeoutError)


@shared_task(name="cameras.tasks.dispatch_due", ignore_result=True)
def dispatch_due() -> dict:
    from pipeline.dispatch import camera_dispatch_due, stream_orphans_record

    result = camera_dispatch_due()
    return {
        "dispatched": result.dispatched,
        "skipped": result.skipped,
        "lost": result.lost,
        "no_reader": stream_orphans_record(),
    }


# slots: CaptureSlot records. Sources bound their own IO (the io pool is threads, where Celery time
# limits don't apply). A database outage is retried; the lease keeps the cameras from being
# dispatched meanwhile.
@shared_task(name="cameras.tasks.capture", autoretry_for=(OperationalError,), **RELIABLE)
def capture(slots: list) -> None:
    from pipeline.capture import snapshots_capture
    from pipeline.messages import capture_slots

    snapshots_capture(slots=capture_slots(slots))


@signals.task_revoked.connect
def on_capture_expired(sender=None, request=None, expired: bool = False, **kwargs: object) -> None:
    # Celery drops an expired task without running it; the cameras it held must be freed.
    if expired and getattr(sender, "name", "") == capture.name and request is not None and request.args:
        from cameras.schedule import captures_dropped
        from pipeline.messages import capture_slots

        captures_dropped(slots=[(s.camera_id, s.slot) for s in capture_slots(request.args[0])])


# frames: FrameReady records. Idempotent: a redelivered decode finds its slots already stored and
# writes nothing twice.
@shared_task(name="analytics.tasks.decode", autoretry_for=OUTAGES, soft_time_limit=30, time_limit=45, **RELIABLE)
def decode(frames: list) -> int:
    from pipeline.decode import snapshots_decode
    from pipeline.messages import frames_ready

    return snapshots_decode(frames=frames_ready(frames))


@shared_task(name="analytics.tasks.prune", ignore_result=True)
def prune() -> dict:
    from pipeline.retention import history_prune

    return vars(history_prune())


# Ends the sightings whose code has left; often, so an end is known within about a second of its gap.
@shared_task(name="tracking.tasks.close_stale", ignore_result=True)
def close_stale() -> int:
    from notify.announce import sightings_announce
    from tracking.services import sightings_close_stale

    ended = sightings_close_stale()
    sightings_announce(ended=ended)
    return len(ended)
