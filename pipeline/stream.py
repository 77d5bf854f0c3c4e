"""Stage 2 for stream-mode cameras (the ``streams`` process, one per host): hold one RTSP session per
camera and, at each due slot of its fixed-rate schedule, hand the latest picture to decoding.

The slot grid is the one dispatch uses for snapshot cameras (``next_run_at`` + whole intervals), so a
camera moving between hosts keeps its slots, and a slot served twice across a takeover is stored
once (a snapshot is unique per camera and slot). The picture goes through the frame store to the
same ``decode`` task with the same ``FrameReady`` record as a snapshot capture, so everything after
capture is shared. A slot without a picture newer than the camera's timeout is recorded as failed:
with the session's error class while it is down, ``stale`` while it is up but sends nothing usable.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection

from cameras.leases import (
    holder_heartbeat,
    holder_leave,
    leases_claim,
    leases_release,
    leases_renew,
    stream_cameras_load,
)
from cameras.models import Camera
from cameras.schedule import captures_dropped
from cameras.services import snapshot_record_failure, source_config
from cameras.sources import CaptureError
from cameras.sources.rtsp_session import RtspSession
from pipeline import framestore
from pipeline.messages import FrameReady

logger = logging.getLogger(__name__)

# A read that has gone this long past the camera's timeout without a packet is stuck: FFmpeg's socket
# timeout ends a silent connection, but not one that still carries bytes and no media (RTCP only, a
# server in trouble). Its thread is abandoned to finish alone and a new session replaces it.
STUCK_GRACE_S = 5.0
# Fields whose change needs a new session; others apply to the next slot.
SESSION_FIELDS = ("url", "username", "password", "transport", "timeout_s")
RELOAD_EVERY = 5  # heartbeats between reloads of the held cameras' settings
TICK_S = 0.05
BATCH_S = 0.1  # frames encoded within this share one decode task
SUMMARY_S = 60.0  # counters per outcome in the log this often


def first_slot(*, anchor: float | None, interval_s: float, now: float) -> float:
    """The camera's first due time at or after now on its grid (anchor + whole intervals, either way:
    an offline camera's backoff may have left its next due time far ahead)."""
    if anchor is None:
        return round(now, 6)
    return round(anchor + interval_s * math.ceil((now - anchor) / interval_s - 1e-9), 6)


@dataclass
class Held:
    camera: Camera
    session: RtspSession
    next_slot: float
    leaving: bool = False


@dataclass
class StreamsProcess:
    holder: str
    lease_s: float = field(default_factory=lambda: settings.CAMTRACK_STREAM_LEASE_S)
    heartbeat_s: float = field(default_factory=lambda: settings.CAMTRACK_STREAM_HEARTBEAT_S)
    policy: str = field(default_factory=lambda: settings.CAMTRACK_STREAM_DECODE)
    held: dict[int, Held] = field(default_factory=dict)
    abandoned: list[RtspSession] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    lease_valid_until: float = 0.0  # monotonic: past it, this process must not serve or read
    beats: int = 0

    # --- sessions -------------------------------------------------------------------------
    def _session(self, camera: Camera) -> RtspSession:
        self.counts["sessions_started"] += 1
        return RtspSession(
            camera_id=camera.pk,
            name=camera.name,
            config=source_config(camera),
            interval_s=camera.interval_s,
            policy=self.policy,
        ).start()

    def _take(self, camera: Camera, now: float) -> None:
        slot = first_slot(anchor=camera.next_run_at, interval_s=camera.interval_s, now=now)
        self.held[camera.pk] = Held(camera=camera, session=self._session(camera), next_slot=slot)
        logger.info("streams: holding %s", camera.name)

    def _drop(self, camera_id: int) -> None:
        held = self.held.pop(camera_id, None)
        if held is not None:
            held.session.stop()

    def stop_all(self) -> None:
        for camera_id in list(self.held):
            self._drop(camera_id)

    # --- leases ---------------------------------------------------------------------------
    def heartbeat(self) -> None:
        started, now = time.monotonic(), time.time()
        until = now + self.lease_s
        try:
            share = holder_heartbeat(holder=self.holder, now=now, until=until)
            mine = leases_renew(holder=self.holder, camera_ids=list(self.held), until=until)
            # Stop serving a little before the lease ends, whatever clocks and queries did meanwhile.
            self.lease_valid_until = started + self.lease_s - self.heartbeat_s
            for camera_id in set(self.held) - mine:
                logger.warning("streams: lost the lease of camera %s", camera_id)
                self._drop(camera_id)
            gone = [cid for cid, h in self.held.items() if h.leaving and not h.session.alive]
            if gone:
                leases_release(holder=self.holder, camera_ids=gone)
                for camera_id in gone:
                    self.held.pop(camera_id)
            self.beats += 1
            if self.beats % RELOAD_EVERY == 0:
                self._reload(now)
            active = sorted(cid for cid, h in self.held.items() if not h.leaving)
            # More than a fair share (another holder came up): hand the highest ids over. Their
            # leases are released once their sessions are closed, not before.
            for camera_id in active[share:]:
                self.held[camera_id].leaving = True
                self.held[camera_id].session.stop()
            if len(self.held) < share:
                claimed = leases_claim(holder=self.holder, now=now, until=until, limit=share - len(self.held))
                for camera in stream_cameras_load(camera_ids=claimed).values():
                    self._take(camera, now)
        except DatabaseError as exc:
            logger.error("streams: heartbeat failed (%s); serving until the leases run out", exc)
            connection.close()  # a broken connection is replaced on the next query

    def _reload(self, now: float) -> None:
        for camera_id, camera in stream_cameras_load(camera_ids=list(self.held)).items():
            held = self.held[camera_id]
            old, held.camera = held.camera, camera
            if any(getattr(old, f) != getattr(camera, f) for f in SESSION_FIELDS):
                held.session.stop()
                held.session = self._session(camera)
            if old.interval_s != camera.interval_s:
                held.session.interval_s = camera.interval_s
                held.next_slot = first_slot(anchor=camera.next_run_at, interval_s=camera.interval_s, now=now)

    def leave(self) -> None:
        """A clean stop: close every session, then free the leases for the other hosts at once."""
        sessions = [h.session for h in self.held.values()]
        self.stop_all()
        deadline = time.monotonic() + 5
        while any(s.alive for s in sessions) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            holder_leave(holder=self.holder)
        except DatabaseError as exc:
            logger.error("streams: could not free the leases (%s); they run out by themselves", exc)

    # --- watchdog -------------------------------------------------------------------------
    def watchdog(self) -> None:
        for held in self.held.values():
            session = held.session
            if held.leaving:
                continue
            if session.stuck_s() > held.camera.timeout_s + STUCK_GRACE_S or not session.alive:
                # Threads cannot be killed: a stuck one is left to finish its read, close its own
                # container and end; a new session takes its place.
                logger.error("streams: session of %s stuck or ended; replacing it", held.camera.name)
                session.stop()
                if session.alive:
                    self.abandoned.append(session)
                    self.counts["sessions_abandoned"] += 1
                held.session = self._session(held.camera)
        self.abandoned = [s for s in self.abandoned if s.alive]
        if len(self.abandoned) > settings.CAMTRACK_STREAM_MAX_ABANDONED:
            # FFmpeg calls that outlive their socket timeout this often mean the process is unwell:
            # exit, and let the supervisor (systemd, compose) start a clean one.
            raise SystemExit(f"streams: {len(self.abandoned)} stuck sessions; exiting to be restarted")

    # --- slots ----------------------------------------------------------------------------
    def due_in(self, now: float) -> float:
        slots = [h.next_slot for h in self.held.values() if not h.leaving]
        return max(0.0, min(slots) - now) if slots else TICK_S

    def serve(self, now: float) -> None:
        """Serve every slot that is due: fresh pictures to decoding, the rest recorded as failed."""
        if time.monotonic() > self.lease_valid_until:
            if self.held:
                logger.error("streams: leases not renewed in time; closing every session")
                self.stop_all()
            return
        frames: dict[str, bytes] = {}
        ready: list[FrameReady] = []
        failed: list[tuple[Held, float, CaptureError]] = []
        skipped: list[int] = []
        batch_started = time.monotonic()
        for held in list(self.held.values()):
            camera, session = held.camera, held.session
            if ready and time.monotonic() - batch_started > BATCH_S:
                # Encoding took a while (a busy host): what is ready goes now rather than at the end.
                self._send(frames, ready, failed)
                frames, ready, batch_started = {}, [], time.monotonic()
            now = max(now, time.time())
            while not held.leaving and held.next_slot <= now:
                slot = held.next_slot
                picture = session.latest
                # A picture from a session that has since failed is not passed off as the camera's view.
                live = session.connected or session.error is None
                if live and picture is not None and picture.at >= slot - camera.timeout_s:
                    if now - slot > camera.timeout_s + settings.CAMTRACK_MAX_LAG_S:
                        skipped.append(camera.pk)  # this process fell behind (a long query): as dispatch does
                    else:
                        self._encode(held, slot, picture, frames, ready, failed)
                elif session.error is None and not session.connected and now < slot + camera.timeout_s:
                    break  # the first session is opening: wait for its first picture, up to the timeout
                elif session.error is not None and not session.connected and session.error.kind != "timeout":
                    failed.append((held, slot, session.error))  # down, and why: refused, auth_failed ...
                else:
                    # Open (or timed out) but nothing fresh: the stall is what the operator needs to know.
                    age = f"{now - picture.at:.1f} s old" if picture else "none yet"
                    why = f"; {session.error}" if session.error is not None else ""
                    failed.append((held, slot, CaptureError("stale", f"latest picture {age}{why}")))
                held.next_slot = round(slot + camera.interval_s, 6)
        if skipped:
            captures_dropped(camera_ids=skipped)
            self.counts["slots_skipped"] += len(skipped)
        if ready:
            self._send(frames, ready, failed)
        for held, slot, error in failed:
            scheduled_at = dt.datetime.fromtimestamp(slot, tz=dt.UTC)
            snapshot_record_failure(camera_id=held.camera.pk, scheduled_at=scheduled_at, error=error)
            self.counts[f"slots_failed_{error.kind}"] += 1

    @staticmethod
    def _encode(held: Held, slot: float, picture, frames: dict, ready: list, failed: list) -> None:
        camera, start = held.camera, time.perf_counter()
        try:
            data = picture.jpeg()
        except CaptureError as exc:
            failed.append((held, slot, exc))
            return
        frames[framestore.frame_key(camera.pk, slot)] = data
        ready.append(
            FrameReady(
                camera_id=camera.pk,
                slot=slot,
                captured_ts=picture.at,
                capture_ms=round((time.perf_counter() - start) * 1000, 2),
                nbytes=len(data),
                formats=camera.formats,
                engine=camera.engine,
                roi=camera.roi,
                downscale=camera.downscale,
                gate=camera.change_gate,
            )
        )

    def _send(self, frames: dict[str, bytes], ready: list[FrameReady], failed: list) -> None:
        try:
            self._hand_over(frames, ready)
        except Exception as exc:  # the frame store or broker is down: those slots are failed, with why
            logger.error("streams: could not hand %d frames to decoding: %s", len(ready), exc)
            failed += [(self.held[f.camera_id], f.slot, CaptureError("broker", str(exc)[:200])) for f in ready]

    def _hand_over(self, frames: dict[str, bytes], ready: list[FrameReady]) -> None:
        from pipeline.tasks import decode

        framestore.frames_put(frames)
        decode.apply_async(
            ([f.to_json() for f in ready],),
            expires=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.CAMTRACK_FRAME_TTL_S),
            argsrepr=f"[{len(ready)} frames: {ready[0].camera_id}...]",
            kwargsrepr="{}",
        )
        self.counts["slots_sent"] += len(ready)

    # --- the loop -------------------------------------------------------------------------
    def _lease_guard(self, stopping: list) -> None:
        """Stop every session once the leases are past renewal, even while the loop is stuck in a query."""
        while not stopping:
            if self.held and time.monotonic() > self.lease_valid_until:
                for held in list(self.held.values()):
                    held.session.stop()  # an Event: safe from any thread; serve() drops them next
            time.sleep(0.25)

    def _summary(self) -> None:
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        logger.info("streams: holding %d cameras; %s", len(self.held), counts or "nothing yet")

    def run(self, stopping: list) -> None:
        threading.Thread(target=self._lease_guard, args=(stopping,), name="lease-guard", daemon=True).start()
        next_beat = next_summary = 0.0
        while not stopping:
            if time.monotonic() >= next_beat:
                self.heartbeat()
                self.watchdog()
                next_beat = time.monotonic() + self.heartbeat_s
            if time.monotonic() >= next_summary:
                self._summary()
                next_summary = time.monotonic() + SUMMARY_S
            now = time.time()
            try:
                self.serve(now)
            except DatabaseError as exc:
                logger.error("streams: could not record slots (%s)", exc)
                connection.close()
            time.sleep(min(self.due_in(time.time()), TICK_S, max(0.0, next_beat - time.monotonic())))
        self.leave()
