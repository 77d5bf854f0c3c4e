"""Read-side queries for cameras: lists, status counts, capture statistics and status history."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber

from cameras.models import Camera, CameraEvent, Snapshot, default_gap_s

STATS_WINDOW = 100  # recent snapshots per camera the statistics look at


@dataclass(frozen=True)
class CaptureStats:
    samples: int  # snapshots in the window, failed ones included
    capture_p50_ms: float | None  # over successful captures only: a timeout's duration says nothing
    capture_p95_ms: float | None
    success_ratio: float | None


EMPTY_STATS = CaptureStats(samples=0, capture_p50_ms=None, capture_p95_ms=None, success_ratio=None)


def camera_list() -> QuerySet[Camera]:
    return Camera.objects.order_by("name")


def camera_status_counts() -> dict[str, int]:
    counts = dict.fromkeys(Camera.Status.values, 0)
    for row in Camera.objects.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, PostgreSQL's percentile_cont)."""
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def camera_capture_stats(*, camera_ids: Iterable[int], window: int = STATS_WINDOW) -> dict[int, CaptureStats]:
    """Capture time p50/p95 and success ratio over each camera's last ``window`` snapshots.

    One query for any number of cameras: a window function numbers each camera's snapshots from
    the newest (served by the (camera, scheduled_at) unique index) and at most ``window`` rows per
    camera come back; percentiles are computed here because SQLite has no percentile function.
    """
    ids = list(camera_ids)
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        return _capture_stats_postgres(ids, window)
    rows = _recent_snapshots(ids, window)
    seen: dict[int, list] = {}
    for camera_id, status, capture_ms in rows:
        counts = seen.setdefault(camera_id, [0, 0, []])
        counts[0] += 1
        if status == Snapshot.Status.OK:
            counts[1] += 1
            if capture_ms is not None:
                counts[2].append(capture_ms)
    stats = {}
    for camera_id, (total, ok, times) in seen.items():
        times.sort()
        stats[camera_id] = CaptureStats(
            samples=total,
            capture_p50_ms=round(_percentile(times, 0.5), 1) if times else None,
            capture_p95_ms=round(_percentile(times, 0.95), 1) if times else None,
            success_ratio=round(ok / total, 3),
        )
    return {camera_id: stats.get(camera_id, EMPTY_STATS) for camera_id in ids}


def _capture_stats_postgres(ids: list[int], window: int) -> dict[int, CaptureStats]:
    """The same figures computed in PostgreSQL: a LATERAL LIMIT reads exactly ``window`` index
    entries per camera, newest first, so the cost stays the same however long the history grows,
    and only one row per camera comes back (percentile_cont interpolates like _percentile)."""
    table = Snapshot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, count(s.status), count(*) FILTER (WHERE s.status = 'ok'), "
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY s.capture_ms) FILTER (WHERE s.status = 'ok'), "
            f"percentile_cont(0.95) WITHIN GROUP (ORDER BY s.capture_ms) FILTER (WHERE s.status = 'ok') "
            f"FROM unnest(%s::bigint[]) AS c(id) CROSS JOIN LATERAL "
            f"(SELECT status, capture_ms FROM {table} WHERE camera_id = c.id ORDER BY scheduled_at DESC LIMIT %s) AS s "
            f"GROUP BY c.id",
            [ids, window],
        )
        rows = cursor.fetchall()
    stats = {
        camera_id: CaptureStats(
            samples=total,
            capture_p50_ms=round(p50, 1) if p50 is not None else None,
            capture_p95_ms=round(p95, 1) if p95 is not None else None,
            success_ratio=round(ok / total, 3),
        )
        for camera_id, total, ok, p50, p95 in rows
        if total
    }
    return {camera_id: stats.get(camera_id, EMPTY_STATS) for camera_id in ids}


def _recent_snapshots(ids: list[int], window: int) -> list[tuple[int, str, float | None]]:
    return list(
        Snapshot.objects.filter(camera_id__in=ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("camera_id")], order_by=F("scheduled_at").desc()))
        .filter(rank__lte=window)
        .values_list("camera_id", "status", "capture_ms")
    )


def camera_event_list(*, camera: Camera, limit: int = 50) -> QuerySet[CameraEvent]:
    """The camera's status changes, newest first: when it went down or came back, and why."""
    return CameraEvent.objects.filter(camera=camera).order_by("-at", "-id")[:limit]


@dataclass(frozen=True)
class CameraPlace:
    name: str
    zone_id: int | None
    zone: str | None
    gap_s: float


_places: dict[int, tuple[float, CameraPlace]] = {}


def camera_places(*, camera_ids: Iterable[int]) -> dict[int, CameraPlace]:
    """Name, zone and sighting gap of cameras, cached per process for CAMTRACK_CAMERA_CACHE_S: the
    store, the sweep and the announcements ask for them on every batch."""
    import time

    from django.conf import settings

    now = time.monotonic()
    found: dict[int, CameraPlace] = {}
    missing = []
    for camera_id in set(camera_ids):
        hit = _places.get(camera_id)
        if hit is not None and hit[0] > now:
            found[camera_id] = hit[1]
        else:
            missing.append(camera_id)
    if missing:
        rows = Camera.objects.filter(pk__in=missing).values_list(
            "id", "name", "zone_id", "zone__name", "interval_s", "sighting_gap_s"
        )
        for pk, name, zone_id, zone, interval_s, gap in rows:
            place = CameraPlace(name=name, zone_id=zone_id, zone=zone, gap_s=gap or default_gap_s(interval_s))
            _places[pk] = (now + settings.CAMTRACK_CAMERA_CACHE_S, place)
            found[pk] = place
    return found
