"""Turning stored frames into sightings and per-minute counts; ending sightings whose code left.

``frames_track`` runs inside the store's transaction, so a frame's snapshot, detections, sighting
and counts commit together or not at all: a redelivered decode task stores nothing and tracks
nothing twice. Writers of one camera's sightings (two cpu workers storing consecutive frames, the
sweep) serialize on a per-camera transaction lock on PostgreSQL; SQLite serializes every writer.
"""

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q

from cameras.models import default_gap_s
from cameras.selectors import camera_places
from tracking.models import CameraMinute, Sighting

_LOCK_SPACE = 7301  # first key of pg_advisory_xact_lock(int, int): camtrack's per-camera sighting lock


@dataclass(frozen=True)
class Seen:
    """One code in one stored frame."""

    format: str
    text: str
    raw: bytes | None
    position: list


@dataclass(frozen=True)
class TrackedFrame:
    """A newly stored frame: where and when it was captured, and what it held."""

    camera_id: int
    zone_id: int | None
    gap_s: float
    at: dt.datetime
    codes: list[Seen] = field(default_factory=list)
    no_read: bool = False
    gated: bool = False


@dataclass
class TrackResult:
    opened: list[Sighting] = field(default_factory=list)  # sightings begun
    # Sightings that saw more frames, each with its last_seen before this batch.
    extended: list[tuple[Sighting, dt.datetime]] = field(default_factory=list)
    ended: list[Sighting] = field(default_factory=list)  # ended because their code came back after the gap


def cameras_lock(*, camera_ids: Iterable[int]) -> None:
    """Take the per-camera sighting locks for this transaction (PostgreSQL; SQLite serializes writers)."""
    ids = sorted(set(camera_ids))
    if ids and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Sorted, so two writers never wait on each other in opposite orders.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, c) FROM unnest(%s::int[]) AS c ORDER BY c", [_LOCK_SPACE, ids]
            )


def _minute(at: dt.datetime) -> dt.datetime:
    return at.replace(second=0, microsecond=0)


def _nearby(
    keys: set[tuple[int, str, str]], since: dt.datetime, until: dt.datetime
) -> dict[tuple[int, str, str], list[Sighting]]:
    """Sightings of each (camera, format, text) that are open or overlap [since, until]."""
    if not keys:
        return {}
    found: dict[tuple[int, str, str], list[Sighting]] = defaultdict(list)
    fields = (
        "id",
        "camera_id",
        "zone_id",
        "format",
        "text",
        "first_seen",
        "last_seen",
        "ended_at",
        "frames",
        "first_position",
        "last_position",
    )
    if connection.vendor == "postgresql":
        # Joined to a VALUES list, each key is one probe of the (camera, text, last_seen) index; the
        # ORM's OR of per-key conditions made PostgreSQL scan far more (measured: 14 ms a batch).
        table = Sighting._meta.db_table
        values = ", ".join(["(%s::bigint, %s, %s)"] * len(keys))
        params: list = [v for key in sorted(keys) for v in key] + [since, until]
        rows = Sighting.objects.raw(
            f"SELECT {', '.join('s.' + f for f in fields)} FROM (VALUES {values}) AS k(camera_id, format, text) "
            f"JOIN {table} AS s ON s.camera_id = k.camera_id AND s.text = k.text AND s.format = k.format "
            f"WHERE (s.last_seen >= %s AND s.first_seen <= %s) OR s.ended_at IS NULL",
            params,
        )
    else:
        match = Q()
        for camera_id, fmt, text in keys:
            match |= Q(camera_id=camera_id, format=fmt, text=text)
        rows = Sighting.objects.filter(
            match, Q(last_seen__gte=since, first_seen__lte=until) | Q(ended_at__isnull=True)
        ).only(*fields)
    for s in rows:
        found[(s.camera_id, s.format, s.text)].append(s)
    return found


def _count_minutes(frames: list[TrackedFrame], begun: dict[tuple[int, dt.datetime], int]) -> None:
    """Add the frames to their minutes; ``begun`` is the change in sightings begun per (camera, start)."""
    rows: dict[tuple[int, dt.datetime], list] = {}
    zones = {f.camera_id: f.zone_id for f in frames}
    for frame in frames:
        row = rows.setdefault((frame.camera_id, _minute(frame.at)), [frame.zone_id, 0, 0, 0, 0, 0])
        row[1] += 1
        row[2] += bool(frame.codes)
        row[3] += frame.no_read
        row[5] += frame.gated
    for (camera_id, start), delta in begun.items():
        if delta:
            rows.setdefault((camera_id, _minute(start)), [zones.get(camera_id), 0, 0, 0, 0, 0])[4] += delta
    table = CameraMinute._meta.db_table
    values, params = [], []
    for (camera_id, start), (zone_id, n, reads, no_reads, opened, gated) in sorted(rows.items()):
        values.append("(%s, %s, %s, %s, %s, %s, %s, %s)")
        params += [camera_id, zone_id, start, n, reads, no_reads, opened, gated]
    # Increments, not overwrites: concurrent batches of one camera add up. Sorted rows lock in one order.
    sql = (
        f"INSERT INTO {table} (camera_id, zone_id, start, frames, reads, no_reads, sightings, gated) "
        f"VALUES {', '.join(values)} ON CONFLICT (camera_id, start) DO UPDATE SET "
        f"frames = {table}.frames + excluded.frames, reads = {table}.reads + excluded.reads, "
        f"no_reads = {table}.no_reads + excluded.no_reads, sightings = {table}.sightings + excluded.sightings, "
        f"gated = {table}.gated + excluded.gated"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _update(sightings: list[Sighting]) -> None:
    """Write back changed sightings; ended ones first, so a visit that ends and its successor that
    opens are never both open (the one-open constraint is checked row by row)."""
    if connection.vendor != "postgresql":
        for s in sightings:
            Sighting.objects.filter(pk=s.pk).update(
                first_seen=s.first_seen,
                last_seen=s.last_seen,
                ended_at=s.ended_at,
                frames=s.frames,
                first_position=s.first_position,
                last_position=s.last_position,
            )
        return
    table = Sighting._meta.db_table
    rows, params = [], []
    for order, s in enumerate(sightings):
        rows.append("(%s, %s, %s::timestamptz, %s::timestamptz, %s::timestamptz, %s, %s::jsonb, %s::jsonb)")
        params += [order, s.pk, s.first_seen, s.last_seen, s.ended_at, s.frames]
        params += [json.dumps(s.first_position), json.dumps(s.last_position)]
    # One statement for the batch. Rows are updated in the order given (a unique index is checked
    # per row, so the ended ones must go first): PostgreSQL joins VALUES in order for a nested loop
    # only by luck, so the ended ones are written by a first statement when there are any.
    ended = [i for i, s in enumerate(sightings) if s.ended_at is not None]
    groups = [r for r in (ended, [i for i in range(len(sightings)) if i not in set(ended)]) if r]
    with connection.cursor() as cursor:
        for group in groups:
            values = ", ".join(rows[i] for i in group)
            group_params = [p for i in group for p in params[i * 8 : i * 8 + 8]]
            cursor.execute(
                f"UPDATE {table} AS s SET first_seen = v.first_seen, last_seen = v.last_seen, ended_at = v.ended_at, "
                f"frames = v.frames, first_position = v.first_position, last_position = v.last_position "
                f"FROM (VALUES {values}) AS v(ord, id, first_seen, last_seen, ended_at, frames, first_position, "
                f"last_position) WHERE s.id = v.id",
                group_params,
            )


def frames_track(*, frames: list[TrackedFrame], locked: bool = False) -> TrackResult:
    """Extend, open or join the sightings of the codes in newly stored frames, and count the frames.

    A code's frames at one camera form one sighting while each comes within the camera's gap of
    the next. Frames may arrive in any order (two cpu workers, a redelivered task): a frame near a
    sighting widens it, a frame near none begins one, a frame that bridges two sightings joins them.
    So the sightings are the same whatever order the frames were stored in. Only a code's latest
    sighting may stay open. Must run inside the transaction that stored the frames; ``locked`` says
    the caller already holds the cameras' locks (the store takes them before writing anything).
    """
    result = TrackResult()
    if not frames:
        return result
    assert transaction.get_connection().in_atomic_block, "frames_track must run inside the store's transaction"
    if not locked:
        cameras_lock(camera_ids=[f.camera_id for f in frames if f.codes])
    by_key: dict[tuple[int, str, str], list[tuple[dt.datetime, Seen, TrackedFrame]]] = defaultdict(list)
    for frame in frames:
        for seen in {(c.format, c.text): c for c in frame.codes}.values():  # a code twice in a frame: once
            by_key[(frame.camera_id, seen.format, seen.text)].append((frame.at, seen, frame))
    begun: dict[tuple[int, dt.datetime], int] = defaultdict(int)
    if not by_key:
        _count_minutes(frames, begun)
        return result
    with_codes = [f for f in frames if f.codes]
    nearby = _nearby(
        set(by_key),
        min(f.at - dt.timedelta(seconds=f.gap_s) for f in with_codes),
        max(f.at + dt.timedelta(seconds=f.gap_s) for f in with_codes),
    )
    now = dt.datetime.now(dt.UTC)
    dirty: dict[int, Sighting] = {}
    seen_before: dict[int, dt.datetime] = {}  # last_seen of the stored sightings this batch touched
    gone: list[int] = []
    new: list[Sighting] = []
    for key, seen_list in by_key.items():
        items = list(nearby.get(key, []))
        gap = dt.timedelta(seconds=seen_list[0][2].gap_s)
        for at, seen, frame in sorted(seen_list, key=lambda item: item[0]):
            matches = sorted(
                (s for s in items if s.first_seen - gap <= at <= s.last_seen + gap), key=lambda s: s.first_seen
            )
            if not matches:
                s = Sighting(
                    camera_id=frame.camera_id,
                    zone_id=frame.zone_id,
                    format=seen.format,
                    text=seen.text,
                    raw=seen.raw,
                    first_seen=at,
                    last_seen=at,
                    frames=0,
                    first_position=seen.position,
                    last_position=seen.position,
                )
                items.append(s)
                new.append(s)
                begun[(frame.camera_id, _minute(at))] += 1
                matches = [s]
            keep = matches[0]
            for other in matches[1:]:  # this frame bridges them: one visit after all
                if other.last_seen > keep.last_seen:
                    keep.last_seen, keep.last_position = other.last_seen, other.last_position
                keep.frames += other.frames
                items.remove(other)
                begun[(other.camera_id, _minute(other.first_seen))] -= 1
                if other.pk:
                    gone.append(other.pk)
                    dirty.pop(other.pk, None)
                else:
                    new.remove(other)
            if keep.pk:
                seen_before.setdefault(keep.pk, keep.last_seen)
            if at < keep.first_seen:
                keep.first_seen, keep.first_position = at, seen.position
            if at >= keep.last_seen:
                keep.last_seen, keep.last_position = at, seen.position
            keep.frames += 1
            if keep.pk:
                dirty[keep.pk] = keep
        latest = max(items, key=lambda s: s.last_seen)
        for s in items:
            if s is latest:
                if s.ended_at is not None and (s.pk in dirty or not s.pk):
                    s.ended_at = None  # ended too early: a frame inside its gap arrived late
            elif s.ended_at is None:
                s.ended_at = min(now, s.last_seen + gap)
                if s.pk:
                    dirty[s.pk] = s
                    result.ended.append(s)
    if gone:
        Sighting.objects.filter(pk__in=gone).delete()  # first: they may hold the one open place
    if dirty:
        _update(sorted(dirty.values(), key=lambda s: s.ended_at is None))
        result.extended = [(s, seen_before.get(pk, s.last_seen)) for pk, s in dirty.items() if s.ended_at is None]
    if new:
        Sighting.objects.bulk_create(new)
        # New ones that this same batch already ended (an earlier visit of a code seen again) are
        # both begun and ended.
        result.opened = list(new)
        result.ended += [s for s in new if s.ended_at is not None]
    _count_minutes(frames, begun)
    return result


def sightings_close_stale(*, now: dt.datetime | None = None) -> list[Sighting]:
    """End the open sightings whose code has been unseen longer than its camera's gap; returns them."""
    now = now or dt.datetime.now(dt.UTC)
    candidates = list(
        Sighting.objects.filter(ended_at__isnull=True, last_seen__lt=now - dt.timedelta(seconds=0.5)).values_list(
            "id", "camera_id", "last_seen"
        )
    )
    if not candidates:
        return []
    places = camera_places(camera_ids={c for _, c, _ in candidates})
    cutoffs: dict[int, dt.datetime] = {}
    stale: list[tuple[int, dt.datetime]] = []
    for pk, camera_id, last_seen in candidates:
        place = places.get(camera_id)
        cutoff = cutoffs.setdefault(camera_id, now - dt.timedelta(seconds=place.gap_s if place else default_gap_s(5)))
        if last_seen < cutoff:
            stale.append((pk, cutoff))
    if not stale:
        return []
    with transaction.atomic():
        cameras_lock(camera_ids={c for pk, c, _ in candidates if pk in {p for p, _ in stale}})
        # Re-checked under the lock, in one statement: a frame stored meanwhile may have extended it.
        if connection.vendor == "postgresql":
            table = Sighting._meta.db_table
            values = ", ".join(["(%s::bigint, %s::timestamptz)"] * len(stale))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS s SET ended_at = %s FROM (VALUES {values}) AS v(id, cutoff) "
                    f"WHERE s.id = v.id AND s.ended_at IS NULL AND s.last_seen < v.cutoff RETURNING s.id",
                    [now, *[x for row in stale for x in row]],
                )
                ended_ids = [row[0] for row in cursor.fetchall()]
        else:
            ended_ids = []
            for pk, cutoff in stale:
                if Sighting.objects.filter(pk=pk, ended_at__isnull=True, last_seen__lt=cutoff).update(ended_at=now):
                    ended_ids.append(pk)
    return list(Sighting.objects.filter(pk__in=ended_ids).order_by("id"))
