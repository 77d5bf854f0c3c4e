"""Fill the configured database with hours of history, as the live pipeline would have written it.

Cameras and zones go through cameras.services.camera_upsert; snapshots, detections, sightings,
per-minute counts and camera events are generated slot by slot in time order and bulk-loaded
(COPY on PostgreSQL, bulk_create on SQLite) in chunks, so memory stays flat however long the
history is.
"""

import datetime as dt
import heapq
import io
import math
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from cameras.models import Camera, CameraEvent, Snapshot, default_gap_s
from cameras.services import camera_upsert
from detections.models import Detection
from tracking.models import CameraMinute, Sighting

US = 1_000_000
MINUTE_US = 60 * US
FAIL_SHARE = 0.01  # captures that time out
NO_READ_SHARE = 0.03  # frames without a parcel where the decoder saw an unreadable code-like pattern
VISIT_SLOTS = (3, 8)  # frames a parcel stays in view of one camera
PAUSE_SLOTS, PAUSE_WEIGHTS = (1, 2, 3), (0.4, 0.4, 0.2)  # empty frames between parcels: ~3 frames in 4 hold one
HOPS = (2, 4)  # cameras a parcel passes
TRANSIT_INTERVALS = (2.0, 12.0)  # time between two cameras of a parcel's journey, in capture intervals
TIMEOUT_S = 5.0  # the cameras' default timeout_s: how long a failed capture takes
FRAME_W, FRAME_H = 1280, 720
TIMEOUT_DETAIL = "no answer in time"  # what cameras.sources.http says about a timeout
CHUNK_SLOTS = 100_000  # snapshots generated (and loaded) per chunk

# Tables in load order: detections refer to the snapshots of their chunk.
TABLES: list[tuple[type, tuple[str, ...]]] = [
    (
        Snapshot,
        (
            "id",
            "camera_id",
            "scheduled_at",
            "captured_at",
            "finished_at",
            "width",
            "height",
            "bytes",
            "capture_ms",
            "decode_ms",
            "status",
            "error",
            "error_detail",
        ),
    ),
    (
        Detection,
        (
            "id",
            "snapshot_id",
            "camera_id",
            "seq",
            "format",
            "text",
            "position",
            "engine",
            "scheduled_at",
            "captured_at",
            "created_at",
        ),
    ),
    (
        Sighting,
        (
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
        ),
    ),
    (CameraMinute, ("id", "camera_id", "zone_id", "start", "frames", "reads", "no_reads", "sightings")),
    (CameraEvent, ("id", "camera_id", "at", "status", "previous", "reason")),
]
TIME_COLUMNS = {
    "scheduled_at",
    "captured_at",
    "finished_at",
    "created_at",
    "first_seen",
    "last_seen",
    "ended_at",
    "start",
    "at",
}
JSON_COLUMNS = {"position", "first_position", "last_position"}

Row = tuple
Chunk = dict[type, list[Row]]


class _Parcel:
    __slots__ = ("text", "hops_left", "visited")

    def __init__(self, text: str, hops: int) -> None:
        self.text = text
        self.hops_left = hops
        self.visited: list[int] = []


class _Cam:
    """One camera's state while its history is generated."""

    __slots__ = (
        "id",
        "zone_id",
        "phase_us",
        "parcel",
        "left",
        "x",
        "y",
        "dx",
        "size",
        "sighting",
        "minute",
        "counts",
        "status",
        "status_since",
        "fails",
        "ok",
        "failed",
        "last_capture",
        "last_error",
    )

    def __init__(self, camera_id: int, zone_id: int | None, phase_us: int, first_left: int) -> None:
        self.id = camera_id
        self.zone_id = zone_id
        self.phase_us = phase_us
        self.parcel: _Parcel | None = None
        self.left = first_left  # slots left in the current pause (parcel None) or visit
        self.x = self.y = self.dx = self.size = 0
        # [id, first_us, last_us, frames, first_position, last_position] of the open sighting
        self.sighting: list | None = None
        self.minute = -1
        self.counts = [0, 0, 0, 0]  # frames, reads, no_reads, sightings begun in self.minute
        self.status = Camera.Status.NEW.value
        self.status_since: int | None = None
        self.fails = 0
        self.ok = self.failed = 0
        self.last_capture: int | None = None
        self.last_error = ""


@dataclass
class SeedPlan:
    camera_ids: list[int]
    zone_ids: list[int | None]
    interval_s: float
    gap_s: float
    start_us: int
    end_us: int
    seed: int
    first_ids: dict[type, int] = field(default_factory=dict)


class HistoryGenerator:
    """Snapshots, detections, sightings, minutes and events for every slot of every camera, in time order.

    Each camera takes a snapshot every interval (at its own phase). Parcels pass in front of
    cameras: a parcel stays a few slots at one camera, moves on to a camera it has not visited
    after a transit pause, and its sightings follow the pipeline's rule (a code unseen for longer
    than the camera's gap begins a new sighting; the sweep ends one a gap after its last frame).
    """

    def __init__(self, plan: SeedPlan) -> None:
        self.plan = plan
        self.rnd = random.Random(plan.seed)
        self.np = np.random.default_rng(plan.seed)
        self.interval_us = round(plan.interval_s * US)
        self.gap_us = round(plan.gap_s * US)
        # Random phases over the interval, as the scheduler spreads first due times; cameras are kept in
        # phase order so that walking them slot by slot walks the history in time order.
        self.cams = sorted(
            (
                _Cam(cid, zid, self.rnd.randrange(self.interval_us), self.rnd.randrange(0, VISIT_SLOTS[1] + 1))
                for cid, zid in zip(plan.camera_ids, plan.zone_ids, strict=True)
            ),
            key=lambda c: c.phase_us,
        )
        span = plan.end_us - plan.start_us
        self.slots_per_cam = [max(0, math.ceil((span - c.phase_us) / self.interval_us)) for c in self.cams]
        self.total_slots = sum(self.slots_per_cam)
        self.ids = dict(plan.first_ids)
        self.pool: list[tuple[int, int, _Parcel]] = []  # parcels between cameras: (ready_us, n, parcel)
        self.pushed = 0  # tie-breaker for the pool's heap
        self.parcels = 0
        self.salt = self.rnd.getrandbits(48)
        self.rows: Chunk = {model: [] for model, _ in TABLES}

    def _next_id(self, model: type) -> int:
        value = self.ids[model]
        self.ids[model] = value + 1
        return value

    def _new_parcel(self) -> _Parcel:
        self.parcels += 1
        # An odd multiplier is a bijection modulo 2**48: payloads look random and never repeat.
        code = ((self.parcels * 0x9E3779B97F4B) ^ self.salt) & (2**48 - 1)
        return _Parcel(f"PARCEL-{code:012X}", self.rnd.randint(*HOPS))

    def _parcel_for(self, cam: _Cam, at_us: int) -> _Parcel:
        """The parcel that arrives at this camera now: one ready to move on if any, else a new one."""
        skipped, chosen = [], None
        while self.pool and self.pool[0][0] <= at_us and len(skipped) < 4:
            item = heapq.heappop(self.pool)
            if cam.id in item[2].visited:
                skipped.append(item)
                continue
            chosen = item[2]
            break
        for item in skipped:
            heapq.heappush(self.pool, item)
        parcel = chosen or self._new_parcel()
        parcel.visited.append(cam.id)
        parcel.hops_left -= 1
        return parcel

    def _start_visit(self, cam: _Cam, at_us: int) -> None:
        rnd = self.rnd
        cam.parcel = self._parcel_for(cam, at_us)
        cam.left = rnd.randint(*VISIT_SLOTS)
        cam.size = rnd.randint(80, 160)
        cam.y = rnd.randint(0, FRAME_H - cam.size)
        cam.dx = rnd.randint(-40, 40)
        span = abs(cam.dx) * cam.left
        cam.x = rnd.randint(span if cam.dx < 0 else 0, max(0, FRAME_W - cam.size - (span if cam.dx > 0 else 0)))

    def _end_sighting(self, cam: _Cam, parcel_text: str, seen_again_us: int | None = None) -> None:
        sid, first, last, frames, first_pos, last_pos = cam.sighting
        # The sweep (every second) ends a sighting once its code has been unseen for the gap; a code back
        # before the sweep came ends it itself, at last_seen + gap (frames_track).
        ended = last + self.gap_us + self.rnd.randrange(US)
        if seen_again_us is not None and ended > seen_again_us:
            ended = last + self.gap_us
        self.rows[Sighting].append(
            (
                sid,
                cam.id,
                cam.zone_id,
                "qr",
                parcel_text,
                first,
                last,
                ended if ended <= self.plan.end_us else None,
                frames,
                first_pos,
                last_pos,
            )
        )
        cam.sighting = None

    def _end_visit(self, cam: _Cam, now_us: int) -> None:
        parcel = cam.parcel
        last = cam.sighting[2] if cam.sighting else now_us
        if cam.sighting:
            self._end_sighting(cam, parcel.text)
        if parcel.hops_left > 0:
            # Ready for its next camera only after this one last saw it: visits never overlap.
            transit = round(self.rnd.uniform(*TRANSIT_INTERVALS) * self.interval_us)
            self.pushed += 1
            heapq.heappush(self.pool, (max(last, now_us) + transit, self.pushed, parcel))
        cam.parcel = None
        cam.left = self.rnd.choices(PAUSE_SLOTS, PAUSE_WEIGHTS)[0]

    def _count(self, cam: _Cam, at_us: int, read: bool, no_read: bool, opened: bool) -> None:
        minute = at_us // MINUTE_US
        if minute != cam.minute:
            self._flush_minute(cam)
            cam.minute = minute
        c = cam.counts
        c[0] += 1
        c[1] += read
        c[2] += no_read
        c[3] += opened

    def _flush_minute(self, cam: _Cam) -> None:
        if cam.minute >= 0 and cam.counts[0]:
            f, r, nr, s = cam.counts
            self.rows[CameraMinute].append(
                (self._next_id(CameraMinute), cam.id, cam.zone_id, cam.minute * MINUTE_US, f, r, nr, s)
            )
        cam.counts = [0, 0, 0, 0]

    def _event(self, cam: _Cam, at_us: int, status: str, reason: str) -> None:
        self.rows[CameraEvent].append((self._next_id(CameraEvent), cam.id, at_us, status, cam.status, reason))
        cam.status = status
        cam.status_since = at_us

    def chunks(self) -> Iterator[tuple[Chunk, int]]:
        """Yield (rows per model, slots covered) for consecutive blocks of time."""
        n = len(self.cams)
        rows_per_chunk = max(1, CHUNK_SLOTS // max(n, 1))
        max_k = max(self.slots_per_cam, default=0)
        phases = np.array([c.phase_us for c in self.cams], dtype=np.int64)
        # A capture ends well within its interval, so one camera's frames are captured in order.
        max_lag_ms = min(2000.0, 0.4 * self.plan.interval_s * 1000)
        for k0 in range(0, max_k, rows_per_chunk):
            k1 = min(max_k, k0 + rows_per_chunk)
            shape = (k1 - k0, n)
            sched = self.plan.start_us + phases[None, :] + np.arange(k0, k1, dtype=np.int64)[:, None] * self.interval_us
            g = self.np
            capture_ms = np.round(np.clip(g.lognormal(math.log(60), 0.5, shape), 5, max_lag_ms * 0.8), 2)
            lag_ms = g.uniform(1, max_lag_ms * 0.2, shape)
            decode_ms = np.round(np.clip(g.lognormal(math.log(25), 0.35, shape), 3, 400), 2)
            queue_ms = g.uniform(20, 250, shape)
            captured = sched + ((lag_ms + capture_ms) * 1000).astype(np.int64)
            finished = captured + ((decode_ms + queue_ms) * 1000).astype(np.int64)
            failed_at = sched + int(TIMEOUT_S * US) + (g.uniform(0, 50, shape) * 1000).astype(np.int64)
            nbytes = np.clip(g.normal(95_000, 12_000, shape), 20_000, 400_000).astype(np.int64)
            fail = g.random(shape) < FAIL_SHARE
            no_read = g.random(shape) < NO_READ_SHARE
            done = self._block(
                sched.tolist(),
                captured.tolist(),
                finished.tolist(),
                failed_at.tolist(),
                capture_ms.tolist(),
                decode_ms.tolist(),
                nbytes.tolist(),
                fail.tolist(),
                no_read.tolist(),
            )
            if k1 == max_k:
                self._finish()
            yield self.rows, done
            self.rows = {model: [] for model, _ in TABLES}

    def _block(self, sched, captured, finished, failed_at, capture_ms, decode_ms, nbytes, fail, no_read) -> int:
        end_us, gap_us = self.plan.end_us, self.gap_us
        snaps, dets = self.rows[Snapshot], self.rows[Detection]
        sid, did = self.ids[Snapshot], self.ids[Detection]
        done = 0
        cams = self.cams
        for ks, kc, kf, kx, kcm, kdm, kb, kfail, knr in zip(
            sched, captured, finished, failed_at, capture_ms, decode_ms, nbytes, fail, no_read, strict=True
        ):
            for j, cam in enumerate(cams):
                t = ks[j]
                if t >= end_us:
                    continue
                done += 1
                if cam.left == 0 and cam.parcel is None:
                    self._start_visit(cam, t)
                parcel = cam.parcel
                # Never three failures in a row: that would take the camera offline and back it off.
                if kfail[j] and cam.fails < 2:
                    at = kx[j]
                    snaps.append(
                        (sid, cam.id, t, None, at, None, None, None, None, None, "failed", "timeout", TIMEOUT_DETAIL)
                    )
                    sid += 1
                    cam.fails += 1
                    cam.failed += 1
                    cam.last_error = f"timeout: {TIMEOUT_DETAIL}"
                    status = "offline" if cam.fails >= 3 else "degraded"
                    if status != cam.status:
                        self._event(cam, at, status, cam.last_error)
                else:
                    cap, fin = kc[j], kf[j]
                    snaps.append((sid, cam.id, t, cap, fin, FRAME_W, FRAME_H, kb[j], kcm[j], kdm[j], "ok", "", ""))
                    opened = False
                    if parcel is not None:
                        step = cam.left
                        x = cam.x + cam.dx * step
                        s = cam.size
                        pos = f"[[{x}, {cam.y}], [{x + s}, {cam.y}], [{x + s}, {cam.y + s}], [{x}, {cam.y + s}]]"
                        dets.append((did, sid, cam.id, 0, "qr", parcel.text, pos, "zxing", t, cap, fin))
                        did += 1
                        sighting = cam.sighting
                        if sighting is not None and cap <= sighting[2] + gap_us:
                            sighting[2] = cap
                            sighting[3] += 1
                            sighting[5] = pos
                        else:
                            if sighting is not None:
                                self._end_sighting(cam, parcel.text, seen_again_us=cap)
                            cam.sighting = [self._next_id(Sighting), cap, cap, 1, pos, pos]
                            opened = True
                    self._count(cam, cap, parcel is not None, parcel is None and knr[j], opened)
                    sid += 1
                    cam.fails = 0
                    cam.ok += 1
                    cam.last_capture = fin
                    if cam.status != "online":
                        self._event(cam, fin, "online", "capture succeeded")
                        cam.last_error = ""
                cam.left -= 1
                if parcel is not None and cam.left == 0:
                    self._end_visit(cam, t)
        self.ids[Snapshot], self.ids[Detection] = sid, did
        return done

    def _finish(self) -> None:
        """Codes still in view at the end keep open sightings; every camera's last minute is counted."""
        for cam in self.cams:
            if cam.sighting is not None:
                self._end_sighting(cam, cam.parcel.text)
            self._flush_minute(cam)


# --- Loading -------------------------------------------------------------------


def _pg_formatters() -> dict[type, Callable[[Row], str]]:
    """COPY text-format lines per model; values here never hold tabs, newlines or backslashes."""
    prefixes: dict[int, str] = {}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def ts(us: int | None) -> str:
        if us is None:
            return "\\N"
        minute, rem = divmod(us, MINUTE_US)
        prefix = prefixes.get(minute)
        if prefix is None:
            prefix = prefixes[minute] = (epoch + dt.timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M:")
        sec, micro = divmod(rem, US)
        return f"{prefix}{sec:02d}.{micro:06d}+00"

    def nul(v: object) -> str:
        return "\\N" if v is None else str(v)

    def snapshot(r: Row) -> str:
        if r[3] is None:
            return f"{r[0]}\t{r[1]}\t{ts(r[2])}\t\\N\t{ts(r[4])}\t\\N\t\\N\t\\N\t\\N\t\\N\t{r[10]}\t{r[11]}\t{r[12]}\n"
        return (
            f"{r[0]}\t{r[1]}\t{ts(r[2])}\t{ts(r[3])}\t{ts(r[4])}\t{r[5]}\t{r[6]}\t{r[7]}\t{r[8]}\t{r[9]}\t"
            f"{r[10]}\t{r[11]}\t{r[12]}\n"
        )

    def detection(r: Row) -> str:
        return f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\t{r[6]}\t{r[7]}\t{ts(r[8])}\t{ts(r[9])}\t{ts(r[10])}\n"

    def sighting(r: Row) -> str:
        return (
            f"{r[0]}\t{r[1]}\t{nul(r[2])}\t{r[3]}\t{r[4]}\t{ts(r[5])}\t{ts(r[6])}\t{ts(r[7])}\t{r[8]}\t{r[9]}\t"
            f"{r[10]}\n"
        )

    def minute(r: Row) -> str:
        return f"{r[0]}\t{r[1]}\t{nul(r[2])}\t{ts(r[3])}\t{r[4]}\t{r[5]}\t{r[6]}\t{r[7]}\n"

    def event(r: Row) -> str:
        return f"{r[0]}\t{r[1]}\t{ts(r[2])}\t{r[3]}\t{r[4]}\t{r[5]}\n"

    return {Snapshot: snapshot, Detection: detection, Sighting: sighting, CameraMinute: minute, CameraEvent: event}


class CopyLoader:
    """COPY chunks into PostgreSQL from a thread, so the server ingests one chunk while the next is made.

    psycopg2 releases the GIL while it waits on the server, so generation and loading overlap. The
    thread has the connection to itself until ``close``: the caller runs no query meanwhile.
    """

    def __init__(self, raw_connection: object) -> None:
        self.conn = raw_connection
        self.format = _pg_formatters()
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="seed-copy", daemon=True)
        self.thread.start()

    def put(self, chunk: Chunk) -> None:
        # Lines are made here, in the generating thread: the loader thread should only wait on I/O.
        payload = []
        for model, columns in TABLES:
            rows = chunk[model]
            if rows:
                fmt = self.format[model]
                payload.append((model._meta.db_table, columns, "".join([fmt(r) for r in rows])))
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(payload, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            with self.conn.cursor() as cursor:
                while (payload := self.queue.get()) is not None:
                    for table, columns, text in payload:
                        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text))
        except BaseException as exc:  # handed to the generating thread, which raises it
            self.error = exc
            while self.queue.get() is not None:  # unblock put() until close()
                pass

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class OrmLoader:
    """bulk_create in chunks: SQLite has no COPY, and its tests seed small histories."""

    def __init__(self) -> None:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        self.when = lambda us: None if us is None else epoch + dt.timedelta(microseconds=us)

    def put(self, chunk: Chunk) -> None:
        import json

        with transaction.atomic():
            for model, columns in TABLES:
                objs = []
                for row in chunk[model]:
                    values = {}
                    for col, v in zip(columns, row, strict=True):
                        if col in TIME_COLUMNS:
                            v = self.when(v)
                        elif col in JSON_COLUMNS:
                            v = json.loads(v)
                        values[col] = v
                    objs.append(model(**values))
                model.objects.bulk_create(objs, batch_size=500)

    def close(self) -> None:
        pass


def _first_ids() -> dict[type, int]:
    from django.db.models import Max

    return {model: (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1 for model, _ in TABLES}


def _reset_sequences() -> None:
    """Explicit ids went past the identity sequences: move them on so later inserts do not collide."""
    with connection.cursor() as cursor:
        for model, _ in TABLES:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST((SELECT MAX(id) FROM {table}), 1), (SELECT MAX(id) FROM {table}) IS NOT NULL)"
            )


class Command(BaseCommand):
    help = (
        "Fill the database with HOURS of history ending now, as the pipeline would have written it at RATE "
        "snapshots/s: cameras seed-0001.., zones, snapshots, detections of parcels moving between cameras, "
        "sightings, per-minute counts and camera events."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cameras", type=int, required=True)
        parser.add_argument("--hours", type=float, required=True)
        parser.add_argument("--rate", type=float, default=200.0, help="snapshots per second over all cameras")
        parser.add_argument("--zones", type=int, default=10)
        parser.add_argument(
            "--interval", type=float, help="seconds between a camera's snapshots (default cameras/rate)"
        )
        parser.add_argument("--seed", type=int, help="random seed, for a repeatable history")

    def handle(self, *args: object, **opts: object) -> None:
        n, hours, zones = int(opts["cameras"]), float(opts["hours"]), max(1, int(opts["zones"]))
        if n < 1 or hours <= 0:
            raise CommandError("--cameras and --hours must be positive")
        interval = float(opts["interval"]) if opts["interval"] else n / float(opts["rate"])
        if interval < 0.5:
            raise CommandError(
                f"interval {interval:g} s is below the cameras' 0.5 s minimum: fewer --rate or more cameras"
            )
        seed = opts["seed"] if opts["seed"] is not None else random.SystemRandom().randrange(2**31)
        started = time.monotonic()

        camera_ids, zone_ids = self._cameras(n, zones, interval)
        if Snapshot.objects.filter(camera_id__in=camera_ids).exists():
            raise CommandError("these seed cameras already have history: seed a fresh database")
        end = dt.datetime.now(dt.UTC)
        end_us = int(end.timestamp() * US)
        plan = SeedPlan(
            camera_ids=camera_ids,
            zone_ids=zone_ids,
            interval_s=interval,
            gap_s=default_gap_s(interval),
            start_us=end_us - round(hours * 3600 * US),
            end_us=end_us,
            seed=seed,
            first_ids=_first_ids(),
        )
        gen = HistoryGenerator(plan)
        postgres = connection.vendor == "postgresql"
        if postgres:
            with connection.cursor() as cursor:
                # A crash mid-seed means seeding again anyway: waiting for each chunk's WAL flush buys nothing.
                cursor.execute("SET synchronous_commit = off")
            loader: CopyLoader | OrmLoader = CopyLoader(connection.cursor().connection)
        else:
            loader = OrmLoader()
        counts = {model: 0 for model, _ in TABLES}
        slots = 0
        try:
            for chunk, done in gen.chunks():
                loader.put(chunk)
                for model, rows in chunk.items():
                    counts[model] += len(rows)
                slots += done
                self._progress(slots, gen.total_slots, started)
        finally:
            loader.close()
        self.stderr.write("")
        self._camera_state(gen)
        if postgres:
            _reset_sequences()
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = on")
                cursor.execute("ANALYZE " + ", ".join([m._meta.db_table for m, _ in TABLES] + [Camera._meta.db_table]))
        elapsed = time.monotonic() - started
        total = sum(counts.values())
        names = {Snapshot: "snapshots", Detection: "detections", Sighting: "sightings", CameraMinute: "minutes"}
        names[CameraEvent] = "events"
        parts = ", ".join(f"{names[m]} {counts[m]}" for m, _ in TABLES)
        self.stdout.write(
            f"seeded {n} cameras in {len(set(zone_ids))} zones, {hours:g} h at {interval:g} s (seed {seed}): {parts}; "
            f"{total} rows in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f} rows/s)"
        )

    def _cameras(self, n: int, zones: int, interval: float) -> tuple[list[int], list[int | None]]:
        width = max(4, len(str(n)))
        camera_ids, zone_ids = [], []
        for i in range(n):
            name = f"seed-{i + 1:0{width}d}"
            zone = f"zone-{i * zones // n + 1:02d}"  # consecutive cameras share a zone, like a dock's row
            try:
                camera, _ = camera_upsert(
                    name=name, url=f"http://127.0.0.1:9/{name}.jpg", interval_s=interval, zone=zone
                )
            except ValidationError as exc:
                raise CommandError(f"{name}: {'; '.join(exc.messages)}") from None
            camera_ids.append(camera.pk)
            zone_ids.append(camera.zone_id)
        return camera_ids, zone_ids

    def _camera_state(self, gen: HistoryGenerator) -> None:
        """Health counters and status as camera_mark_success/failure would have left them."""
        when = OrmLoader().when
        cameras = []
        for cam in gen.cams:
            cameras.append(
                Camera(
                    pk=cam.id,
                    status=cam.status,
                    status_since=when(cam.status_since),
                    last_capture_at=when(cam.last_capture),
                    captures_ok=cam.ok,
                    captures_failed=cam.failed,
                    consecutive_failures=cam.fails,
                    last_error=cam.last_error,
                )
            )
        fields = ["status", "status_since", "last_capture_at", "captures_ok", "captures_failed"]
        Camera.objects.bulk_update(cameras, [*fields, "consecutive_failures", "last_error"], batch_size=500)

    def _progress(self, done: int, total: int, started: float) -> None:
        if not sys.stderr.isatty() and done != total:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        rate = done / max(time.monotonic() - started, 1e-9)
        self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} slots, {rate:,.0f}/s", ending="")
