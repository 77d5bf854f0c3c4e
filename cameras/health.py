"""Camera health: online / degraded / offline, transitions logged as CameraEvents."""

import datetime as dt

from django.db import transaction
from django.db.models import F

from cameras.models import Camera, CameraEvent
from cameras.signals import camera_status_changed
from cameras.slots import BACKOFF, SKIPPED, slots_between, slots_count

OFFLINE_AFTER = 3  # consecutive failures
BACKOFF_CAP_S = 300.0


def backoff_s(*, interval_s: float, consecutive_failures: int) -> float:
    """Offline cameras are retried at a doubling interval, capped, so they don't eat io slots."""
    if consecutive_failures < OFFLINE_AFTER:
        return 0.0
    return min(interval_s * 2 ** (consecutive_failures - OFFLINE_AFTER + 1), max(BACKOFF_CAP_S, interval_s))


def _changed(*, camera_id: int, at: dt.datetime, status: str, previous: str, reason: str) -> None:
    CameraEvent.objects.create(camera_id=camera_id, at=at, status=status, previous=previous, reason=reason)
    camera_status_changed.send(
        sender=Camera, camera_id=camera_id, at=at, status=status, previous=previous, reason=reason
    )


def camera_mark_success(*, camera_id: int, at: dt.datetime) -> None:
    updated = Camera.objects.filter(pk=camera_id, status=Camera.Status.ONLINE).update(
        captures_ok=F("captures_ok") + 1, consecutive_failures=0, last_capture_at=at, lease_until=None
    )
    if updated:
        return
    with transaction.atomic():
        camera = Camera.objects.select_for_update().filter(pk=camera_id).first()
        if camera is None:
            return
        previous = camera.status
        Camera.objects.filter(pk=camera_id).update(
            captures_ok=F("captures_ok") + 1,
            consecutive_failures=0,
            last_capture_at=at,
            lease_until=None,
            status=Camera.Status.ONLINE,
            status_since=at,
            last_error="",
        )
        if previous != Camera.Status.ONLINE:
            _changed(
                camera_id=camera_id, at=at, status=Camera.Status.ONLINE, previous=previous, reason="capture succeeded"
            )


def camera_mark_failure(*, camera_id: int, at: dt.datetime, error: str, detail: str) -> Camera | None:
    """Count a failed capture, step the camera towards offline and back off; returns the camera as it was."""
    reason = f"{error}: {detail}"[:300] if detail else error
    with transaction.atomic():
        camera = Camera.objects.select_for_update().filter(pk=camera_id).first()
        if camera is None:
            return None
        failures = camera.consecutive_failures + 1
        status = Camera.Status.OFFLINE if failures >= OFFLINE_AFTER else Camera.Status.DEGRADED
        changes = {
            "captures_failed": F("captures_failed") + 1,
            "consecutive_failures": failures,
            "last_error": reason,
            "lease_until": None,
        }
        delay = backoff_s(interval_s=camera.interval_s, consecutive_failures=failures)
        if delay and camera.next_run_at is not None:
            changes["next_run_at"] = max(camera.next_run_at, at.timestamp() + delay)
            # The slots the camera now waits out are skipped (backoff), each counted once.
            waited = slots_between(start=camera.next_run_at, end=changes["next_run_at"], interval_s=camera.interval_s)
            slots_count(outcome=SKIPPED, slots=[(camera_id, s) for s in waited], reason=BACKOFF)
        if status != camera.status:
            changes["status"] = status
            changes["status_since"] = at
            _changed(camera_id=camera_id, at=at, status=status, previous=camera.status, reason=reason)
        Camera.objects.filter(pk=camera_id).update(**changes)
    return camera
