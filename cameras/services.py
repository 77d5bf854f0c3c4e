"""Camera business logic: registering cameras, dispatching due captures, capturing frames."""

import datetime as dt
import logging
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F

from cameras import framestore
from cameras.health import camera_mark_failure
from cameras.models import Camera, Snapshot, split_credentials
from cameras.sources import CaptureError, Frame, SourceConfig, grab

logger = logging.getLogger(__name__)

# Fields an import or the command line may set.
EDITABLE = (
    "url",
    "username",
    "password",
    "enabled",
    "interval_s",
    "timeout_s",
    "formats",
    "engine",
    "transport",
    "roi",
    "downscale",
)


def _ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def camera_upsert(*, name: str, **fields: object) -> tuple[Camera, bool]:
    """Create or update a camera by name; credentials typed into the URL are split out.

    Raises ValidationError with a readable message for bad values.
    """
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
    camera = Camera.objects.filter(name=name).first()
    created = camera is None
    if created:
        camera = Camera(name=name)
    if "url" in fields:
        url, user, password = split_credentials(str(fields["url"]).strip())
        fields["url"] = url
        if user and not fields.get("username"):
            fields["username"] = user
        if password and not fields.get("password"):
            fields["password"] = password
    for key, value in fields.items():
        if value is not None:
            setattr(camera, key, value)
    camera.full_clean(exclude=["next_run_at", "lease_until", "last_due_at"])
    if camera.next_run_at is None:
        # Spread first due times over the interval so cameras added together don't fire together forever.
        camera.next_run_at = time.time() + random.uniform(0, camera.interval_s)
    camera.save()
    return camera, created


def source_config(camera: Camera) -> SourceConfig:
    return SourceConfig(
        url=camera.url,
        username=camera.username,
        password=camera.password,
        timeout_s=camera.timeout_s,
        transport=camera.transport,
    )


# --- Dispatch -----------------------------------------------------------------------------------
@dataclass
class DispatchResult:
    dispatched: int  # captures enqueued (a camera faster than the round gets one per slot)
    skipped: int
    elapsed_ms: float


# The latest slot at or before now (or the first future one), then the first slot past the horizon.
_SLOT = (
    "(next_run_at + interval_s * "
    "(CASE WHEN next_run_at < %(now)s THEN FLOOR((%(now)s - next_run_at) / interval_s) ELSE 0 END))"
)
_AFTER = f"({_SLOT} + interval_s * CEILING((%(horizon)s - {_SLOT}) / interval_s))"


def _claim_due(now: float, horizon: float, *, shed: float = 0.0) -> tuple[list[tuple], int]:
    """Claim every camera due before the horizon in one statement; count the due ones still in flight.

    A concurrent round blocks on the same rows and re-checks the WHERE clause after the first
    commits, so no camera is claimed twice. Schedules are fixed-rate: next_run_at moves by whole
    intervals from the previous due time, skipping slots that already passed. When decoding is
    backed up, a share `shed` (0..1) of the due cameras skips this round (counted); which ones is
    a hash of the camera and the round, so over time every camera sheds alike.
    """
    table = Camera._meta.db_table
    params = {
        "now": now,
        "horizon": horizon,
        "slack": settings.CAMTRACK_LEASE_SLACK_S,
        "round": int(now) % 1000,
        "shed": int(shed * 1000),
    }
    true = "TRUE" if connection.vendor == "postgresql" else "1"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_run_at = {_AFTER}, captures_skipped = captures_skipped + 1 "
            f"WHERE enabled = {true} AND next_run_at < %(horizon)s AND (lease_until > %(now)s "
            f"OR MOD(id * 7919 + %(round)s * 104729, 1000) < %(shed)s)",
            params,
        )
        skipped = cursor.rowcount
        # SET expressions see the old row, RETURNING the new one: last_due_at carries the first slot.
        cursor.execute(
            f"UPDATE {table} SET last_due_at = {_SLOT}, next_run_at = {_AFTER}, "
            f"lease_until = {_AFTER} + timeout_s + %(slack)s "
            f"WHERE enabled = {true} AND next_run_at < %(horizon)s "
            f"AND (lease_until IS NULL OR lease_until <= %(now)s) "
            f"RETURNING id, last_due_at, next_run_at, interval_s, timeout_s, status",
            params,
        )
        claimed = cursor.fetchall()
    return claimed, skipped


def _release(camera_ids: list[int]) -> None:
    Camera.objects.filter(pk__in=camera_ids).update(lease_until=None)


def captures_dropped(*, items: list[list]) -> None:
    """Captures that expired in the queue: free their cameras and count the slots as skipped."""
    ids = [camera_id for camera_id, _ in items]
    Camera.objects.filter(pk__in=ids).update(lease_until=None, captures_skipped=F("captures_skipped") + 1)


SHED_KEY = "camtrack:dispatch:shed"


def load_shed(backlog: int | None) -> float:
    """Share of due cameras to skip this round, steered to hold the decode backlog near half its limit.

    The share carries over from round to round (in Redis, so every dispatcher agrees): a share set
    from one round's backlog alone swings between shedding everything and nothing, since a round's
    effect shows in the backlog only a round later. It rises fast and falls slowly.
    """
    limit = settings.CAMTRACK_MAX_DECODE_BACKLOG
    if backlog is None or limit <= 0:
        return 0.0
    client = framestore.client()
    try:
        previous = float(client.get(SHED_KEY) or 0.0)
    except Exception:  # the frame store down: shed nothing rather than stop dispatching
        return 0.0
    error = (backlog - limit / 2) / limit
    shed = min(1.0, max(0.0, previous + (0.5 if error > 0 else 0.2) * error))
    client.set(SHED_KEY, shed, ex=60)
    return shed


def decode_backlog() -> int | None:
    """Decode tasks waiting in the broker (each up to CAMTRACK_BATCH_SIZE frames); None if unknown."""
    from camtrack.celery import app

    try:
        with app.pool.acquire(block=True, timeout=2) as conn:
            return conn.default_channel.queue_declare(queue="cpu", passive=True).message_count
    except Exception as exc:  # no queue yet, or a broker hiccup: dispatch anyway, the next round asks again
        if "NOT_FOUND" in str(exc) or "404" in str(exc):
            return 0
        logger.warning("dispatch: could not read the cpu queue length: %s", exc)
        return None


# A camera that failed lately travels alone; a new one is assumed healthy until its first capture says
# otherwise (isolating all new cameras made a thousand cameras added at once overload the queues).
BATCHABLE = (Camera.Status.ONLINE, Camera.Status.NEW)
MAX_TASKS_PER_ROUND = 250


def _batches(claimed: list[tuple], now: float) -> list[tuple[float, float, list[list]]]:
    """Group the claimed slots into capture tasks: (eta, expires, [[camera_id, slot], ...]).

    Healthy cameras whose slots fall within a short window share a task, so Celery's per-task cost
    is paid once per batch; a degraded or offline camera travels alone, so a slow or dead camera
    never delays others. A batch starts at its last member's due time: nobody is captured early.
    """
    size, window, lag = settings.CAMTRACK_BATCH_SIZE, settings.CAMTRACK_BATCH_WINDOW_S, settings.CAMTRACK_MAX_LAG_S
    slots = []
    for camera_id, first_slot, next_slot, interval_s, timeout_s, status in claimed:
        slot = first_slot
        while slot < next_slot - 1e-6:
            slots.append((max(slot, now), round(slot, 6), camera_id, timeout_s, status in BATCHABLE))
            slot += interval_s
    slots.sort()
    # A huge round (thousands due at once) is cut into at most MAX_TASKS_PER_ROUND tasks, so that
    # publishing stays well under a second; steady rounds keep the configured size.
    size = max(size, -(-len(slots) // MAX_TASKS_PER_ROUND))
    batches: list[tuple[float, float, list[list]]] = []
    current: list[tuple] = []

    def close() -> None:
        if current:
            batches.append((current[-1][0], current[-1][0] + lag, [[c[2], c[1]] for c in current]))
            current.clear()

    for item in slots:
        if not item[4]:
            batches.append((item[0], item[0] + lag, [[item[2], item[1]]]))
            continue
        if current and (len(current) >= size or item[0] - current[0][0] > window):
            close()
        current.append(item)
    close()
    return batches


def camera_dispatch_due(*, now: float | None = None, lookahead_s: float | None = None) -> DispatchResult:
    """One dispatch round: claim the cameras due before the next round and enqueue their captures.

    Captures due later in this round's window carry an ETA, so a camera starts on its due time
    rather than on the next beat tick; a camera with an interval shorter than the window gets one
    capture per slot in it.
    """
    from cameras.tasks import capture

    start = time.perf_counter()
    now = time.time() if now is None else now
    lookahead_s = settings.CAMTRACK_DISPATCH_LOOKAHEAD_S if lookahead_s is None else lookahead_s
    backlog = decode_backlog()
    shed = load_shed(backlog)
    if shed:
        logger.warning("dispatch: %d decode tasks waiting; %.0f%% of this round's cameras skip", backlog, shed * 100)
    claimed, skipped = _claim_due(now, now + lookahead_s, shed=shed)
    batches = _batches(claimed, now)
    sent = captures = 0
    try:
        with capture.app.producer_or_acquire() as producer:
            for eta, expires, items in batches:
                # A capture that cannot start within CAMTRACK_MAX_LAG_S of its slot expires unrun:
                # late frames would only add latency (see tasks.on_capture_expired).
                # An explicit argsrepr spares Celery a saferepr of every argument (a third of the
                # publish cost measured at 10,000 cameras); Flower shows this text instead.
                capture.apply_async(
                    (items,),
                    producer=producer,
                    eta=_ts(eta) if eta > now + 0.005 else None,
                    expires=_ts(expires),
                    argsrepr=f"[{len(items)} cameras: {items[0][0]}...]",
                    kwargsrepr="{}",
                )
                sent += 1
                captures += len(items)
    except Exception:
        # Broker down: give the unsent cameras back so the next round can try them again.
        logger.exception("dispatch: broker refused after %d of %d capture tasks", sent, len(batches))
        _release([item[0] for _, _, items in batches[sent:] for item in items])
        raise
    return DispatchResult(dispatched=captures, skipped=skipped, elapsed_ms=(time.perf_counter() - start) * 1000)


# --- Capture ----------------------------------------------------------------------------------
def snapshot_record_failure(
    *, camera: Camera, scheduled_at: dt.datetime, error: CaptureError, capture_ms: float | None = None
) -> Snapshot | None:
    """Record a failed capture (once per slot) and update the camera's health."""
    now = dt.datetime.now(dt.UTC)
    created = False
    snapshot = None
    try:
        with transaction.atomic():
            snapshot = Snapshot.objects.create(
                camera=camera,
                scheduled_at=scheduled_at,
                finished_at=now,
                capture_ms=capture_ms,
                status=Snapshot.Status.FAILED,
                error=error.kind[:30],
                error_detail=error.detail,
            )
            created = True
    except Exception as exc:  # IntegrityError: this slot is already recorded
        from django.db import IntegrityError

        if not isinstance(exc, IntegrityError):
            raise
    if created:
        camera_mark_failure(camera_id=camera.pk, at=now, error=error.kind, detail=error.detail)
    logger.info("capture failed camera=%s error=%s", camera.name, error.kind)
    return snapshot


def frame_capture(*, camera: Camera) -> tuple[Frame, float]:
    """Grab one frame within the camera's timeout; returns the frame and the milliseconds it took."""
    start = time.perf_counter()
    frame = grab(source_config(camera))
    return frame, (time.perf_counter() - start) * 1000
