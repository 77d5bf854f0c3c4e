"""The one event log every channel reads: a bounded Redis Stream.

Every event is written once, with an increasing id (the stream's ``<ms>-<seq>``), a type, a time and
a JSON body. Channels (server-sent events, MQTT, webhooks, alert rules) read it from their own last
id, so one that falls behind or restarts resumes where it was, within the stream's bounds
(``CAMTRACK_EVENTS_MAXLEN`` entries, ``CAMTRACK_EVENTS_MAX_AGE_S``). Nothing on the hot path waits
for a channel: writing is one XADD after the transaction that caused the event committed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

STREAM_KEY = "camtrack:events"
CURSOR_KEY = "camtrack:events:cursor:"  # + channel name: the last id that channel handled
TYPES = (
    "sighting.new",
    "sighting.update",
    "sighting.end",
    "camera.status",
    "alert.raised",
    "alert.cleared",
)

_client: tuple[int, redis.Redis] | None = None


def client() -> redis.Redis:
    # One pool per process (a pool inherited across fork would share sockets).
    global _client
    if _client is None or _client[0] != os.getpid():
        _client = (
            os.getpid(),
            redis.Redis.from_url(settings.CAMTRACK_EVENTS_URL, socket_timeout=5, socket_connect_timeout=5),
        )
    return _client[1]


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    at: str  # ISO 8601, UTC: when the event was written
    body: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        # The envelope wins over the body: id, type and at always say which event this is and when.
        return {**self.body, "id": self.id, "type": self.type, "at": self.at}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), default=str)


def _fields(event_type: str, body: dict[str, Any]) -> dict[str, str]:
    if event_type not in TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"type": event_type, "at": at, "body": json.dumps(body, separators=(",", ":"), default=str)}


def events_write(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Append events now, in one round trip; returns their ids. A failure is logged, not raised:
    the pipeline's own work is stored already and must not be undone for its announcement."""
    if not events:
        return []
    min_id = f"{int((time.time() - settings.CAMTRACK_EVENTS_MAX_AGE_S) * 1000)}-0"
    try:
        pipe = client().pipeline(transaction=False)
        for event_type, body in events:
            pipe.xadd(STREAM_KEY, _fields(event_type, body), maxlen=settings.CAMTRACK_EVENTS_MAXLEN, approximate=True)
        pipe.xtrim(STREAM_KEY, minid=min_id, approximate=True)
        ids = pipe.execute()[:-1]
    except redis.RedisError as exc:
        logger.error("events: %d not written: %s", len(events), exc)
        return []
    return [i.decode() if isinstance(i, bytes) else i for i in ids]


def events_publish(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Append events once the current transaction commits (at once outside one): an event never
    announces what a rolled-back transaction did not store."""
    if events:
        transaction.on_commit(lambda: events_write(events))


def decode_entry(entry_id: bytes | str, fields: dict) -> Event:
    """An event from a raw stream entry (as redis-py returns it, sync or async)."""
    get = {
        k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v for k, v in fields.items()
    }
    return Event(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        type=get.get("type", ""),
        at=get.get("at", ""),
        body=json.loads(get.get("body") or "{}"),
    )


def events_read(*, after: str = "0-0", count: int = 500, block_ms: int | None = None) -> list[Event]:
    """Events after ``after`` (exclusive), oldest first; waits up to ``block_ms`` for one if given."""
    reply = client().xread({STREAM_KEY: after}, count=count, block=block_ms)
    if not reply:
        return []
    return [decode_entry(entry_id, fields) for entry_id, fields in reply[0][1]]


def events_last_id() -> str:
    """The id of the newest event ("0-0" when there is none): where a new reader starts."""
    newest = client().xrevrange(STREAM_KEY, count=1)
    return decode_entry(*newest[0]).id if newest else "0-0"


def cursor_get(*, channel: str, default: str | None = None) -> str:
    value = client().get(CURSOR_KEY + channel)
    if value is None:
        return events_last_id() if default is None else default
    return value.decode()


def cursor_set(*, channel: str, event_id: str) -> None:
    client().set(CURSOR_KEY + channel, event_id)
