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

    @property
    def read_rate(self) -> float | None:
        return round(self.reads / self.frames, 4) if self.frames else None


def counts(
    *,
    bucket: str,
    since: dt.datetime,
    until: dt.datetime,
    camera: Camera | None = None,
    zone: Zone | None = None,
) -> list[CountRow]:
    """Per bucket: sightings begun, distinct codes among them, frames, reads and no-reads.

    Frames, reads, no-reads and sightings come from the per-minute roll-up; distinct codes from
    the sightings begun in the bucket (an index range), since distinct counts do not add up.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    minutes = CameraMinute.objects.filter(start__gte=since, start__lt=until)
    sightings = Sighting.objects.filter(first_seen__gte=since, first_seen__lt=until)
    if camera is not None:
        minutes, sightings = minutes.filter(camera=camera), sightings.filter(camera=camera)
    if zone is not None:
        minutes, sightings = minutes.filter(zone=zone), sightings.filter(zone=zone)
    rolled = {
        row["b"]: row
        for row in minutes.annotate(b=Trunc("start", bucket))
        .values("b")
        .annotate(frames=Sum("frames"), reads=Sum("reads"), no_reads=Sum("no_reads"), sightings=Sum("sightings"))
    }
    distinct = {
        row["b"]: row["codes"]
        for row in sightings.annotate(b=Trunc("first_seen", bucket))
        .values("b")
        .annotate(codes=Count("text", distinct=True))
    }
    rows = []
    for start in sorted(set(rolled) | set(distinct)):
        r = rolled.get(start, {})
        rows.append(
            CountRow(
                start=start,
                sightings=r.get("sightings") or 0,
                codes=distinct.get(start, 0),
                frames=r.get("frames") or 0,
                reads=r.get("reads") or 0,
                no_reads=r.get("no_reads") or 0,
            )
        )
    return rows
