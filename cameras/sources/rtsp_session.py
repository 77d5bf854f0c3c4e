"""A long-lived RTSP session (PyAV) that keeps one camera's latest decodable picture fresh.

One thread per session demuxes continuously (RTSP keepalives are only sent while a session is
read) and decodes either key frames only or every frame, whichever the camera's key-frame interval
and capture interval call for. The thread alone touches its container: closing a container from
another thread while it reads is unsafe, so a stop is a request the thread honours at its next
packet, or when FFmpeg's socket timeout ends a read that got nothing.
"""

from __future__ import annotations

import contextlib
import logging
import random
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass

import av
import cv2

from cameras.sources import SourceConfig
from cameras.sources.errors import CaptureError
from cameras.sources.rtsp import JPEG_QUALITY, classify, with_credentials

logger = logging.getLogger(__name__)

# Reconnect delays after consecutive failed sessions, each shortened by up to 30 % at random so
# cameras behind one dead switch do not all retry on the same tick. Capped at 8 s so a camera is back
# within its timeout + 10 s of its server (the next key frame and slot come on top of the delay).
BACKOFF_S = (1.0, 2.0, 5.0, 8.0)
KEY_ONLY_SLACK = 1.05  # a key-frame interval this much over the capture interval still counts as within it


class MediaClock:
    """When a picture was taken, from its media timestamp rather than from when it arrived.

    A frame held up somewhere (a stalled camera or server flushing its last frame seconds later)
    arrives late but carries the timestamp of when it was made. Wall time minus media time is least
    for the frames that came quickest; the least of it over a sliding window dates every frame, and
    the window lets the camera's clock drift against ours without every picture looking old.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.offsets: deque[tuple[float, float]] = deque()  # (arrival, arrival - media time)

    def taken_at(self, media_s: float | None, arrival: float) -> float:
        if media_s is None:
            return arrival
        offset = arrival - media_s
        while self.offsets and self.offsets[-1][1] >= offset:
            self.offsets.pop()  # a later, lower offset makes this one irrelevant (a monotonic deque)
        self.offsets.append((arrival, offset))
        while self.offsets[0][0] < arrival - self.window_s:
            self.offsets.popleft()
        return media_s + self.offsets[0][1]


class Policy:
    AUTO = "auto"  # key frames only when they come at least once per capture interval
    KEY = "key"
    ALL = "all"


@dataclass(frozen=True)
class Picture:
    frame: av.VideoFrame
    at: float  # Unix time it was taken (see MediaClock), at most when it was decoded
    width: int
    height: int

    def jpeg(self) -> bytes:
        gray = self.frame.to_ndarray(format="gray")
        ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise CaptureError("not_an_image", "frame could not be encoded")
        return buf.tobytes()


class RtspSession:
    """Hold a camera's RTSP session in a thread, reconnecting with backoff; read ``latest`` any time."""

    def __init__(self, *, camera_id: int, name: str, config: SourceConfig, interval_s: float, policy: str) -> None:
        self.camera_id, self.name, self.config = camera_id, name, config
        self.interval_s = interval_s
        self.policy = policy
        self.latest: Picture | None = None
        self.error: CaptureError | None = None  # why the last session attempt failed; None while connected
        self.connected = False
        self.key_only = False
        self.gop_s: float | None = None
        self.sessions = 0  # sessions opened, for accounting (one per camera while healthy)
        self.last_packet = time.monotonic()  # monotonic time of the last packet or session start
        self.in_read = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtsp-{camera_id}", daemon=True)

    def start(self) -> RtspSession:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to close its session and end; it does at its next packet or socket timeout."""
        self._stop.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stuck_s(self) -> float:
        """Seconds a read has gone without a packet (0 when not reading)."""
        return time.monotonic() - self.last_packet if self.in_read else 0.0

    def _options(self) -> dict[str, str]:
        return {
            "rtsp_transport": self.config.transport or "tcp",
            # FFmpeg's socket timeout (microseconds) bounds every read without the per-poll interrupt
            # callback that PyAV's read timeout installs (that one takes the GIL on every poll).
            "timeout": str(int(self.config.timeout_s * 1_000_000)),
            "analyzeduration": "0",
            "probesize": "32",
            "fflags": "nobuffer",
            "flags": "low_delay",
        }

    def _choose(self, codec: av.codec.context.CodecContext) -> None:
        if self.policy == Policy.AUTO:
            key_only = self.gop_s is not None and self.gop_s <= self.interval_s * KEY_ONLY_SLACK
        else:
            key_only = self.policy == Policy.KEY
        if key_only != self.key_only:
            codec.skip_frame = "NONKEY" if key_only else "DEFAULT"
            self.key_only = key_only

    def _session(self) -> None:
        container = None
        try:
            container = av.open(
                with_credentials(self.config), options=self._options(), timeout=(self.config.timeout_s, None)
            )
            self.sessions += 1
            stream = next((s for s in container.streams if s.type == "video"), None)
            if stream is None:
                raise CaptureError("empty", "no video stream")
            codec = stream.codec_context
            codec.thread_count = 1  # frame threads add latency; many streams share the cores anyway
            self.key_only = False
            self._choose(codec)
            keys: deque[float] = deque(maxlen=5)
            clock = MediaClock(window_s=max(10.0, 2 * self.config.timeout_s))
            last_picture = time.monotonic()
            self.last_packet = time.monotonic()
            self.in_read = True
            for packet in container.demux(stream):
                now = time.monotonic()
                self.last_packet = now
                if self._stop.is_set():
                    return
                if packet.size == 0:
                    continue
                if packet.is_keyframe:
                    keys.append(now)
                    if len(keys) >= 3:
                        self.gop_s = statistics.median(b - a for a, b in zip(keys, list(keys)[1:], strict=False))
                        self._choose(codec)
                for frame in packet.decode():
                    media_s = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else None
                    at = min(clock.taken_at(media_s, time.time()), time.time())
                    self.latest = Picture(frame=frame, at=at, width=frame.width, height=frame.height)
                    last_picture = now
                    if not self.connected:
                        self.connected, self.error = True, None
                if now - last_picture > self.config.timeout_s:
                    # Packets but no picture (a broken stream): as good as none.
                    raise CaptureError("timeout", f"no decodable picture for {self.config.timeout_s:g} s")
            raise CaptureError("empty", "stream ended")
        finally:
            self.in_read = False
            self.connected = False
            if container is not None:
                with contextlib.suppress(Exception):
                    container.close()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._session()
            except CaptureError as exc:
                self.error = exc
            except Exception as exc:  # av raises many typed errors; each becomes one error class
                self.error = classify(exc, self.config)
            if self._stop.is_set():
                break
            # A session that ran a while before failing starts the ladder again.
            failures = 1 if time.monotonic() - started > 30 else failures + 1
            delay = BACKOFF_S[min(failures, len(BACKOFF_S)) - 1] * random.uniform(0.7, 1.0)
            logger.info("stream %s: %s; reconnecting in %.1f s", self.name, self.error, delay)
            self._stop.wait(delay)
