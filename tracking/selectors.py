"""Read-side queries for sightings, journeys and counts; each reads an index, never all of history."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Trunc

from cameras.models import Camera, Zone
from tracking.models import CameraMinute, Sighting

JOURNEY_LIMIT = 1000
BUCKETS = ("minute", "hour", "day")


def sighting_list(
    *,
    camera: str | None = None,
    zone: str | None = None,
    code: str | None = None,
    code_prefix: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    open_only: bool = False,
) -> QuerySet[Sighting]:
    """Sightings, newest first (by id: monotonic, so cursor pages stay stable)."""
    qs = Sighting.objects.select_related("camera", "zone").order_by("-id")
    if camera:
        qs = qs.filter(camera__name=camera)
    if zone:
        qs = qs.filter(zone__name=zone)
    if code is not None:
        qs = qs.filter(text=code)
    if code_prefix:
        qs = qs.filter(text__startswith=code_prefix)
    if since:
        qs = qs.filter(last_seen__gte=since)
    if until:
        qs = qs.filter(first_seen__lt=until)
    if open_only:
        qs = qs.filter(ended_at__isnull=True)
    return qs


def camera_recent_sightings(*, camera: Camera, limit: int) -> list[Sighting]:
    """A camera's latest sightings by arrival: read backwards along (camera, first_seen), so a quiet
    camera costs as little as a busy one (newest-by-id would scan everyone's sightings to find its few)."""
    qs = Sighting.objects.filter(camera=camera).select_related("camera", "zone").order_by("-first_seen", "-id")
    return list(qs[:limit])


def journey(*, code: str, limit: int = JOURNEY_LIMIT) -> list[Sighting]:
    """Every sighting of one exact payload in time order (the first ``limit``)."""
    return list(
        Sighting.objects.filter(text=code).select_related("camera", "zone").order_by("first_seen", "id")[:limit]
    )


@dataclass(frozen=True)
class CountRow:
    start: dt.datetime
    sightings: int
    codes: int
    frames: int
    reads: int
    no_reads: int
    gated: int = 0  # frames not decoded again, the picture unchanged (their reads count as before)

    @property
    def read_rate(self) -> float | None:
        return round(self.reads / self.frames, 4) if self.frames else None


STEP = {"minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
# A bucket this far in the past no longer changes (late frames and sweeps are long done): its row is
# computed once and cached, so a chart over a year of days reads the database for today only.
SETTLED_AFTER = dt.timedelta(minutes=10)
CACHE_S = 24 * 3600


def _floor(at: dt.datetime, bucket: str) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    if bucket == "minute":
        return at.replace(second=0, microsecond=0)
    if bucket == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _compute(
    bucket: str, since: dt.datetime, until: dt.datetime, camera: Camera | None, zone: Zone | None
) -> dict[dt.datetime, CountRow]:
    minutes = CameraMinute.objects.filter(start__gte=since, start__lt=until)
    sightings = Sighting.objects.filter(first_seen__gte=since, first_seen__lt=until)
    if camera is not None:
        minutes, sightings = minutes.filter(camera=camera), sightings.filter(camera=camera)
    if zone is not None:
        minutes, sightings = minutes.filter(zone=zone), sightings.filter(zone=zone)
    rolled = {
        row["b"]: row
        for row in minutes.annotate(b=Trunc("start", bucket, tzinfo=dt.UTC))
        .values("b")
        .annotate(
            frames=Sum("frames"),
            reads=Sum("reads"),
            no_reads=Sum("no_reads"),
            sightings=Sum("sightings"),
            gated=Sum("gated"),
        )
    }
    distinct = {
        row["b"]: row["codes"]
        for row in sightings.annotate(b=Trunc("first_seen", bucket, tzinfo=dt.UTC))
        .values("b")
        .annotate(codes=Count("text", distinct=True))
    }
    out = {}
    for start in set(rolled) | set(distinct):
        r = rolled.get(start, {})
        out[start] = CountRow(
            start=start,
            sightings=r.get("sightings") or 0,
            codes=distinct.get(start, 0),
            frames=r.get("frames") or 0,
            reads=r.get("reads") or 0,
            no_reads=r.get("no_reads") or 0,
            gated=r.get("gated") or 0,
        )
    return out


def counts(
    *,
    bucket: str,
    since: dt.datetime,
    until: dt.datetime,
    camera: Camera | None = None,
    zone: Zone | None = None,
    now: dt.datetime | None = None,
) -> list[CountRow]:
    """Per bucket: sightings begun, distinct codes among them, frames, reads and no-reads.

    Frames, reads, no-reads and sightings come from the per-minute roll-up; distinct codes from
    the sightings begun in the bucket (an index range), since distinct counts do not add up.
    Whole buckets that have settled are cached; the rest is read each time.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    from django.core.cache import cache

    step = STEP[bucket]
    now = now or dt.datetime.now(dt.UTC)
    first = _floor(since, bucket)
    first = first if first == since.astimezone(dt.UTC) else first + step  # the first whole bucket
    settled_end = min(_floor(until, bucket), _floor(now - SETTLED_AFTER, bucket))
    scope = f"c{camera.pk}" if camera is not None else f"z{zone.pk}" if zone is not None else "all"
    whole = []
    start = first
    while start + step <= settled_end:
        whole.append(start)
        start += step
    rows: dict[dt.datetime, CountRow] = {}
    if whole:
        keys = {f"camtrack:counts:{scope}:{bucket}:{int(s.timestamp())}": s for s in whole}
        hits = cache.get_many(list(keys))
        rows.update({keys[k]: v for k, v in hits.items() if v is not None and v.frames + v.sightings})
        missing = [s for k, s in keys.items() if k not in hits]
        if missing:
            fresh = _compute(bucket, missing[0], missing[-1] + step, camera, zone)
            empty = CountRow(start=missing[0], sightings=0, codes=0, frames=0, reads=0, no_reads=0)
            cache.set_many(
                {k: fresh.get(s, empty) for k, s in keys.items() if k not in hits and missing[0] <= s <= missing[-1]},
                CACHE_S,
            )
            rows.update({s: r for s, r in fresh.items() if s in set(missing)})
        live = [(since, whole[0]), (whole[-1] + step, until)]
    else:
        live = [(since, until)]
    for lo, hi in live:
        if lo < hi:
            rows.update(_compute(bucket, lo, hi, camera, zone))
    return [rows[s] for s in sorted(rows)]
