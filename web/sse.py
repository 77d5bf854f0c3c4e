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
def _token_user(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token is not None and token.user.is_active else None


async def _user(request: HttpRequest):
    header = request.headers.get("Authorization", "")
    key = header[6:].strip() if header.startswith("Token ") else request.GET.get("token", "")
    if key:
        return await _token_user(key)
    user = await request.auser()
    return user if user.is_authenticated else None


def _wanted(event: Event, *, types: set[str], camera: str | None, zone: str | None) -> bool:
    if types and event.type not in types:
        return False
    if camera and event.body.get("camera") != camera:
        return False
    return not (zone and event.body.get("zone") != zone)


def _frame(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {event.to_json()}\n\n"


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
        client = aioredis.Redis.from_url(settings.CAMTRACK_EVENTS_URL, socket_connect_timeout=5)
        try:
            position = since
            if not position:
                newest = await client.xrevrange(STREAM_KEY, count=1)
                position = decode_entry(*newest[0]).id if newest else "0-0"
            yield f"retry: 2000\n: stream from {position}\n\n"
            while True:
                reply = await client.xread({STREAM_KEY: position}, count=READ_COUNT, block=int(heartbeat * 1000))
                if not reply:
                    yield ": heartbeat\n\n"
                    continue
                chunk = []
                for entry_id, fields in reply[0][1]:
                    event = decode_entry(entry_id, fields)
                    position = event.id
                    if _wanted(event, types=types, camera=camera, zone=zone):
                        chunk.append(_frame(event))
                if chunk:
                    yield "".join(chunk)
        except asyncio.CancelledError:  # the client went away: Django cancels the response
            raise
        finally:
            await client.aclose()

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response
