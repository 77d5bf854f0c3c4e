"""Stage 1, dispatch (beat → io): claim the cameras due before the next round and enqueue their captures."""

import datetime as dt
import json
import logging
import time
from dataclasses import asdict, dataclass, replace

from django.conf import settings
from django.db import DatabaseError

from cameras.ledger import slots_open, slots_reconcile
from cameras.models import Camera
from cameras.schedule import cameras_claim_due, captures_dropped, stream_orphans_claim
from cameras.services import snapshot_record_failure
from cameras.slots import OUTAGE
from cameras.sources import CaptureError
from pipeline import framestore
from pipeline.messages import CaptureSlot

logger = logging.getLogger(__name__)

SHED_KEY = "camtrack:dispatch:shed"
# A camera that failed lately travels alone; a new one is assumed healthy until its first capture says
# otherwise (isolating all new cameras made a thousand cameras added at once overload the queues).
BATCHABLE = (Camera.Status.ONLINE, Camera.Status.NEW)
MAX_TASKS_PER_ROUND = 250


@dataclass
class DispatchResult:
    dispatched: int  # captures enqueued (a camera faster than the round gets one per slot)
    skipped: int
    lost: int  # claimed slots past their deadline without an outcome, recorded as failed lost
    elapsed_ms: float


def _ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


@dataclass(frozen=True)
class ShedState:
    """What the load controller keeps from round to round (in Redis, so every dispatcher agrees)."""

    shed: float = 0.0  # share of due cameras the last round skipped
    over_since: float = 0.0  # when the backlog went over its target (0: it is not)
    backlog: int = 0  # decode tasks waiting at the last round
    decoded: int = 0  # the frames-decoded counter at the last round
    at: float = 0.0  # when the last round ran
    rate: float = 0.0  # frames/s that decoding reached while work was waiting (smoothed)
    offered: float = 0.0  # slots/s falling due, shed or not (the last round's)
    per_task: float = 1.0  # frames per decode task (the last round's)


DRAIN_S = 3.0  # a backlog over target is worked off over about this long
MAX_RISE = 0.15  # the most the share rises in one round
WORK_S = 0.5  # a backlog holding this many seconds of decoding is an overload at once, not a burst


def shed_next(
    state: ShedState, *, backlog: int, decoded: int | None, now: float, limit: int, after_s: float
) -> ShedState:
    """The next round's share to skip: what decoding demonstrably does, less what drains the excess.

    While tasks wait beyond the target (half the limit) at both ends of a round, decoding is
    saturated, so the frames it decoded meanwhile are its capacity; the round admits that rate, less
    the excess backlog spread over DRAIN_S, and sheds the rest of what falls due, rising at most
    MAX_RISE a round. A share stepped by the backlog alone overshot: the backlog answers a round
    late, so the share swung between most of the cameras and none, and each swing left a latency
    peak (measured: p95 4.8 s serving 356 of 385 snapshots/s asked, against 0.8 s now). The share
    only rises while the backlog is over target and not falling; once it is back the share falls
    quickly to what the measured capacity calls for, then slowly (capacity may have grown), so it
    settles near 1 - capacity / offered.

    An overload's first shedding waits until the backlog has stayed over target for
    CAMTRACK_SHED_AFTER_S, or holds WORK_S of decoding at the capacity measured before while
    decoding goes on: captures end in bursts, and a worker restarting stops decoding for a few
    seconds; those frames wait and are decoded. Shedding on every burst over target cost the
    warehouse scene 7-14 % of its slots.
    """
    target = limit / 2
    elapsed = now - state.at
    done_rate = None
    if decoded is not None and 0 < elapsed <= 10 and decoded >= state.decoded:
        done_rate = (decoded - state.decoded) / elapsed
    rate, shed, over_since = state.rate, state.shed, state.over_since
    if backlog > target:
        over_since = over_since or now
        # Once shedding, the overload is known: no more waiting until the share is back to nothing.
        # Nor once the backlog holds more than WORK_S of decoding at the capacity measured before,
        # while decoding goes on: that is more than a burst of captures.
        progressing = done_rate is not None and done_rate >= 0.25 * state.offered > 0
        deep = rate > 0 and backlog * state.per_task / rate >= WORK_S
        lasting = shed > 0 or now - over_since >= after_s or (progressing and deep)
        # Saturated through the whole interval (over target at both ends): what it did is its capacity.
        if lasting and done_rate is not None and state.backlog > target:
            rate = done_rate if not rate else (rate + done_rate) / 2
        if not lasting or backlog < state.backlog:
            pass  # a burst (or a worker restarting) not yet long enough to call overload, or already draining
        elif rate > 0 and state.offered > 0:
            admit = rate - (backlog - target) * state.per_task / DRAIN_S
            # At most MAX_RISE a round: one round's backlog is a noisy reading (captures end in bursts).
            shed = max(shed, min(1 - admit / state.offered, shed + MAX_RISE))
        else:  # nothing measured yet
            shed += 0.5 * (backlog - target) / limit
    else:
        over_since = 0.0
        if rate > 0 and state.offered > 0:
            # Quickly down to what the measured capacity calls for, then slowly on (capacity may have
            # grown, or the load fallen); with nothing waiting, never above that.
            floor = 1 - rate / state.offered
            shed = shed - 0.05 if shed - 0.05 > floor else shed - 0.01
            if backlog == 0:
                shed = min(shed, floor)
        else:
            shed = shed - 0.05 if backlog > 0 else shed / 2  # nothing measured
    return ShedState(
        shed=min(1.0, max(0.0, shed)),
        over_since=over_since,
        backlog=backlog,
        decoded=decoded if decoded is not None else state.decoded,
        at=now,
        rate=rate,
        offered=state.offered,
        per_task=state.per_task,
    )


def _shed_state(client: object) -> ShedState:
    raw = client.get(SHED_KEY)
    if not raw:
        return ShedState()
    try:
        return ShedState(**json.loads(raw))
    except (ValueError, TypeError):  # written by an older version: start afresh
        return ShedState()


def load_shed(backlog: int | None, *, now: float | None = None) -> float:
    """Share of due cameras to skip this round (see shed_next), steering the decode backlog to half its limit."""
    limit = settings.CAMTRACK_MAX_DECODE_BACKLOG
    if backlog is None or limit <= 0:
        return 0.0
    now = time.time() if now is None else now
    client = framestore.client()
    try:
        state = _shed_state(client)
        raw = client.get(framestore.DECODED_KEY)
        decoded = int(raw) if raw is not None else None
        state = shed_next(
            state, backlog=backlog, decoded=decoded, now=now, limit=limit, after_s=settings.CAMTRACK_SHED_AFTER_S
        )
        client.set(SHED_KEY, json.dumps(asdict(state)), ex=60)
    except Exception:  # the frame store down: shed nothing rather than stop dispatching
        return 0.0
    return state.shed


def load_offered(*, slots: int, tasks: int, lookahead_s: float) -> None:
    """Record what this round found due (dispatched or shed) and how it was batched, for the next round's share."""
    client = framestore.client()
    try:
        state = _shed_state(client)
        offered = slots / lookahead_s if lookahead_s > 0 else 0.0
        per_task = slots / tasks if tasks else state.per_task
        client.set(SHED_KEY, json.dumps(asdict(replace(state, offered=offered, per_task=per_task))), ex=60)
    except Exception:  # the frame store down: the next round sheds from the backlog alone
        logger.debug("dispatch: could not record the offered load", exc_info=True)


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


def capture_batches(claimed: list[tuple], now: float) -> list[tuple[float, float, list[CaptureSlot]]]:
    """Group the claimed slots into capture tasks: (eta, expires, slots).

    Healthy cameras whose slots fall within a short window share a task, so Celery's per-task cost
    is paid once per batch; a degraded or offline camera travels alone, so a slow or dead camera
    never delays others. A batch starts at its last member's due time: nobody is captured early.
    """
    size, window, lag = settings.CAMTRACK_BATCH_SIZE, settings.CAMTRACK_BATCH_WINDOW_S, settings.CAMTRACK_MAX_LAG_S
    slots = []
    for camera_id, first_slot, next_slot, interval_s, _timeout_s, status in claimed:
        slot = first_slot
        while slot < next_slot - 1e-6:
            slots.append((max(slot, now), round(slot, 6), camera_id, status in BATCHABLE))
            slot += interval_s
    slots.sort()
    # A huge round (thousands due at once) is cut into at most MAX_TASKS_PER_ROUND tasks, so that
    # publishing stays well under a second; steady rounds keep the configured size.
    size = max(size, -(-len(slots) // MAX_TASKS_PER_ROUND))
    batches: list[tuple[float, float, list[CaptureSlot]]] = []
    current: list[tuple] = []

    def close() -> None:
        if current:
            start = current[-1][0]
            batches.append((start, start + lag, [CaptureSlot(camera_id=c[2], slot=c[1]) for c in current]))
            current.clear()

    for item in slots:
        if not item[3]:
            batches.append((item[0], item[0] + lag, [CaptureSlot(camera_id=item[2], slot=item[1])]))
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
    from pipeline.tasks import capture

    start = time.perf_counter()
    now = time.time() if now is None else now
    lookahead_s = settings.CAMTRACK_DISPATCH_LOOKAHEAD_S if lookahead_s is None else lookahead_s
    backlog = decode_backlog()
    shed = load_shed(backlog, now=now)
    if shed:
        logger.warning("dispatch: %d decode tasks waiting; %.0f%% of this round's cameras skip", backlog, shed * 100)
    claimed, skipped = cameras_claim_due(now=now, horizon=now + lookahead_s, shed=shed)
    batches = capture_batches(claimed, now)
    if backlog is not None:
        slots = sum(len(b[2]) for b in batches)
        load_offered(slots=slots + skipped, tasks=len(batches), lookahead_s=lookahead_s)
    timeouts = {row[0]: row[4] for row in claimed}
    slots_open((s.camera_id, s.slot, timeouts[s.camera_id]) for _, _, slots in batches for s in slots)
    sent = captures = 0
    try:
        with capture.app.producer_or_acquire() as producer:
            for eta, expires, slots in batches:
                # A capture that cannot start within CAMTRACK_MAX_LAG_S of its slot expires unrun:
                # late frames would only add latency (see tasks.on_capture_expired).
                # An explicit argsrepr spares Celery a saferepr of every argument (a third of the
                # publish cost measured at 10,000 cameras); Flower shows this text instead.
                capture.apply_async(
                    ([s.to_json() for s in slots],),
                    producer=producer,
                    eta=_ts(eta) if eta > now + 0.005 else None,
                    expires=_ts(expires),
                    argsrepr=f"[{len(slots)} cameras: {slots[0].camera_id}...]",
                    kwargsrepr="{}",
                )
                sent += 1
                captures += len(slots)
    except Exception:
        # Broker down: the unsent slots are skipped (outage) and their cameras freed; the next round
        # claims their next slots.
        logger.exception("dispatch: broker refused after %d of %d capture tasks", sent, len(batches))
        captures_dropped(slots=[(s.camera_id, s.slot) for _, _, slots in batches[sent:] for s in slots], reason=OUTAGE)
        raise
    try:
        lost = slots_reconcile(now=now)
    except DatabaseError as exc:  # the captures are sent; the next round records these
        logger.warning("dispatch: could not record lost slots: %s", exc)
        lost = 0
    return DispatchResult(
        dispatched=captures, skipped=skipped, lost=lost, elapsed_ms=(time.perf_counter() - start) * 1000
    )


def stream_orphans_record(*, now: float | None = None) -> int:
    """Record the due slots of stream cameras nobody holds as failed (``no_reader``); returns how many."""
    now = time.time() if now is None else now
    # Twice the lease: a takeover between streams processes (up to a lease and a heartbeat) is not this.
    grace = 2 * settings.CAMTRACK_STREAM_LEASE_S
    recorded = 0
    for camera_id, first_slot, next_slot, interval_s in stream_orphans_claim(now=now, grace_s=grace):
        slot = first_slot
        while slot < next_slot - 1e-6:
            error = CaptureError("no_reader", "no streams process holds this stream camera")
            snapshot_record_failure(camera_id=camera_id, scheduled_at=_ts(round(slot, 6)), error=error)
            recorded += 1
            slot += interval_s
    return recorded
