"""GET /api/events/stream: the event log as server-sent events.

An async view: an open stream costs a coroutine and one Redis connection, not a web worker. A client
that comes back sends ``Last-Event-ID`` (EventSource does so by itself) or ``?since_id=`` and gets
everything it missed that the log still holds, each event once, then live ones. A comment line every
CAMTRACK_SSE_HEARTBEAT_S keeps proxies from closing an idle stream. Token (header, or ``?token=``
since EventSource cannot send headers) or session authentication.
"""

import asyncio
import re

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from notify.events import STREAM_KEY, TYPES, Event, decode_entry

_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
READ_COUNT = 500


@sync_to_async
def _user(request: HttpRequest):
    """The client's user by token (header, or ?token=) or session; None if neither holds.

    Each ASGI request runs its database calls in a thread of its own; a stream lasts for hours, so
    the connection that thread opened is closed here, or every open stream would hold one
    (PostgreSQL's max_connections is about a hundred by default).
    """
    from django.db import connections
    from rest_framework.authtoken.models import Token

    try:
        header = request.headers.get("Authorization", "")
        key = header[6:].strip() if header.startswith("Token ") else request.GET.get("token", "")
        if key:
            token = Token.objects.select_related("user").filter(key=key).first()
            return token.user if token is not None and token.user.is_active else None
        return request.user if request.user.is_authenticated else None
    finally:
        connections.close_all()


def _wanted(event: Event, *, types: set[str], camera: str | None, zone: str | None) -> bool:
    if types and event.type not in types:
        return False
    if camera and event.body.get("camera") != camera:
        return False
    return not (zone and event.body.get("zone") != zone)


def _order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def _frame(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {event.to_json()}\n\n"


class _Hub:
    """One reader of the event log per web process, fanning live events out to every open stream:
    Redis is read once, and each event decoded and rendered once, however many clients listen."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue] = set()
        self.task: asyncio.Task | None = None

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=10_000)
        self.queues.add(queue)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._follow())
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.queues.discard(queue)

    async def _follow(self) -> None:
        client = aioredis.Redis.from_url(settings.CAMTRACK_EVENTS_URL, socket_connect_timeout=5)
        try:
            newest = await client.xrevrange(STREAM_KEY, count=1)
            position = decode_entry(*newest[0]).id if newest else "0-0"
            while self.queues:
                try:
                    reply = await client.xread({STREAM_KEY: position}, count=READ_COUNT, block=1000)
                except (aioredis.RedisError, OSError):
                    await asyncio.sleep(1.0)  # Redis away: streams stay open and resume from their own ids
                    continue
                if not reply:
                    continue
                batch = [decode_entry(entry_id, fields) for entry_id, fields in reply[0][1]]
                position = batch[-1].id
                rendered = [(event, _frame(event)) for event in batch]
                for queue in list(self.queues):
                    if queue.full():  # a client that stopped reading: it reconnects and replays
                        self.queues.discard(queue)
                        queue.put_nowait(None)
                        continue
                    queue.put_nowait(rendered)
        finally:
            await client.aclose()


_hub = _Hub()


async def events_stream(request: HttpRequest) -> HttpResponse:
    if await _user(request) is None:
        return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
    types = {t for t in request.GET.get("types", "").split(",") if t}
    unknown = types - set(TYPES)
    if unknown:
        return JsonResponse({"types": f"unknown: {', '.join(sorted(unknown))}; known: {', '.join(TYPES)}"}, status=400)
    since = request.headers.get("Last-Event-ID") or request.GET.get("since_id") or ""
    if since and not _ID.match(since):
        return JsonResponse({"since_id": "an event id such as 1764612345678-0"}, status=400)
    camera, zone = request.GET.get("camera") or None, request.GET.get("zone") or None
    heartbeat = settings.CAMTRACK_SSE_HEARTBEAT_S

    async def stream():
        # Live events are buffered from the start; history since the client's id is read from the
        # log; then the buffer is drained, skipping what the history already sent. Nothing is
        # missed at the seam and nothing is sent twice.
        live = _hub.subscribe()
        client = aioredis.Redis.from_url(settings.CAMTRACK_EVENTS_URL, socket_connect_timeout=5)
        try:
            position = since
            if not position:
                newest = await client.xrevrange(STREAM_KEY, count=1)
                position = decode_entry(*newest[0]).id if newest else "0-0"
            yield f"retry: 2000\n: stream from {position}\n\n"
            while True:  # catch up
                reply = await client.xread({STREAM_KEY: position}, count=READ_COUNT)
                if not reply:
                    break
                chunk = []
                for entry_id, fields in reply[0][1]:
                    event = decode_entry(entry_id, fields)
                    position = event.id
                    if _wanted(event, types=types, camera=camera, zone=zone):
                        chunk.append(_frame(event))
                if chunk:
                    yield "".join(chunk)
            await client.aclose()
            client = None
            last = _order(position)
            while True:
                try:
                    rendered = await asyncio.wait_for(live.get(), timeout=heartbeat)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if rendered is None:
                    return  # fell too far behind: the client reconnects with its Last-Event-ID
                chunk = []
                for event, frame in rendered:
                    order = _order(event.id)
                    if order <= last:
                        continue
                    last = order
                    if _wanted(event, types=types, camera=camera, zone=zone):
                        chunk.append(frame)
                if chunk:
                    yield "".join(chunk)
        finally:
            _hub.unsubscribe(live)
            if client is not None:
                await client.aclose()

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response
