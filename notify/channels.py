"""The ``notify`` process: each channel follows the event log from its own last id, in its own thread.

A channel that fails (its broker down, a bug) retries the same events with backoff and never holds
up the others; its position is kept in Redis, so a restarted process resumes where it stopped
(at-least-once: a channel must tolerate an event twice). Like healthchecks' ``sendalerts``: a plain
loop in a management command, with counters per outcome.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.db import close_old_connections, connections

from notify.events import Event, cursor_get, cursor_set, events_read

logger = logging.getLogger(__name__)


class Channel:
    """One way events leave camtrack. ``handle`` gets events in order and raises to have them again."""

    name = "channel"

    def start(self) -> None:
        """Connect what the channel needs; called once in the channel's thread."""

    def handle(self, events: list[Event]) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Called about once a second, events or not: for conditions that are about time passing."""

    def stop(self) -> None:
        """Disconnect cleanly (an MQTT last will must not fire on a clean stop)."""


@dataclass
class ChannelStats:
    handled: int = 0
    failures: int = 0
    last_error: str = ""
    position: str = ""
    started: float = field(default_factory=time.time)


class Runner:
    """Runs channels side by side until stopped."""

    BLOCK_MS = 1000
    # Short and capped: a retry is one read of the log and one attempt, cheap; a long cap would leave a
    # channel idle for that long after its broker or receiver came back.
    BACKOFF_S = (1, 2, 3, 5)

    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels
        self.stats = {c.name: ChannelStats() for c in channels}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Runner:
        for channel in self.channels:
            thread = threading.Thread(target=self._follow, args=(channel,), name=f"notify-{channel.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _follow(self, channel: Channel) -> None:
        stats = self.stats[channel.name]
        failures = 0
        started = False
        position = None
        while not self._stop.is_set():
            # A database that restarted leaves this thread's connection broken: drop it before the next
            # use (Django does this around requests and tasks; a long-lived thread must do it itself).
            close_old_connections()
            try:
                if not started:
                    channel.start()
                    started = True
                if position is None:
                    position = cursor_get(channel=channel.name)
                events = events_read(after=position, block_ms=self.BLOCK_MS)
                if events:
                    channel.handle(events)
                    position = events[-1].id
                    cursor_set(channel=channel.name, event_id=position)
                    stats.handled += len(events)
                    stats.position = position
                channel.tick()
                failures = 0
            except Exception as exc:  # a channel never takes the process down; it retries the same events
                failures += 1
                stats.failures += 1
                stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                connections.close_all()  # this thread's; the next round opens a fresh one
                delay = self.BACKOFF_S[min(failures, len(self.BACKOFF_S)) - 1]
                logger.warning("notify %s: %s; again in %s s", channel.name, stats.last_error, delay)
                self._stop.wait(delay)
        if started:
            try:
                channel.stop()
            except Exception:
                logger.exception("notify %s: stop failed", channel.name)
