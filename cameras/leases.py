"""Stream leases: which streams process holds which stream-mode camera, shared through the database.

Every streams process (one per host) heartbeats its holder row and renews its leases; a camera
whose lease ran out is free, and a process claims free cameras up to its fair share (stream
cameras / live holders), so several hosts split them and a dead host's cameras go to the others
once its leases run out. Claims lock the lease rows with SKIP LOCKED, so two processes claiming at
once take different cameras, and a lease is taken over only once expired. Times are Unix seconds
of the hosts' clocks, which must agree (NTP) to well under the lease.
"""

import math

from django.db import transaction

from cameras.models import Camera, StreamHolder, StreamLease


def _stream_cameras():
    return Camera.objects.filter(enabled=True, mode=Camera.Mode.STREAM)


def holder_heartbeat(*, holder: str, now: float, until: float) -> int:
    """Say this holder is alive until ``until``; returns its fair share of the stream cameras."""
    StreamHolder.objects.update_or_create(name=holder, defaults={"alive_until": until})
    StreamHolder.objects.filter(alive_until__lt=now - 3600).delete()  # long-gone holders
    holders = StreamHolder.objects.filter(alive_until__gte=now).count() or 1
    return math.ceil(_stream_cameras().count() / holders)


def holder_leave(*, holder: str) -> None:
    """A clean stop: free every lease at once, so the others take over without waiting for expiry."""
    StreamLease.objects.filter(holder=holder).update(holder="", lease_until=0.0)
    StreamHolder.objects.filter(name=holder).delete()


def leases_renew(*, holder: str, camera_ids: list[int], until: float) -> set[int]:
    """Extend this holder's leases; returns the cameras still held (a disabled or changed camera is not)."""
    if not camera_ids:
        return set()
    # One statement, holder checked on the row itself: a lease another holder took is never extended.
    StreamLease.objects.filter(
        holder=holder, camera_id__in=_stream_cameras().filter(pk__in=camera_ids).values("pk")
    ).update(lease_until=until)
    return set(
        StreamLease.objects.filter(holder=holder, camera_id__in=camera_ids, lease_until=until).values_list(
            "camera_id", flat=True
        )
    )


def leases_claim(*, holder: str, now: float, until: float, limit: int) -> list[int]:
    """Claim up to ``limit`` stream cameras whose lease is free or expired; returns their ids."""
    if limit <= 0:
        return []
    missing = _stream_cameras().filter(stream_lease__isnull=True).values_list("pk", flat=True)
    StreamLease.objects.bulk_create([StreamLease(camera_id=pk) for pk in missing], ignore_conflicts=True)
    with transaction.atomic():
        ids = list(
            StreamLease.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(lease_until__lt=now, camera__enabled=True, camera__mode=Camera.Mode.STREAM)
            .order_by("camera_id")
            .values_list("camera_id", flat=True)[:limit]
        )
        StreamLease.objects.filter(camera_id__in=ids).update(holder=holder, lease_until=until, acquired_at=now)
    return ids


def leases_release(*, holder: str, camera_ids: list[int]) -> None:
    """Give cameras back (their sessions are closed): another holder may claim them at once."""
    StreamLease.objects.filter(holder=holder, camera_id__in=camera_ids).update(holder="", lease_until=0.0)


def stream_cameras_load(*, camera_ids: list[int]) -> dict[int, Camera]:
    """What a streams process needs of its cameras, credentials included (never logged)."""
    return {c.pk: c for c in Camera.objects.filter(pk__in=camera_ids)}
