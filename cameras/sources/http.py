"""HTTP(S) snapshot cameras: a JPEG or PNG per request, or one frame of an MJPEG stream.

All of a process's HTTP captures run on one asyncio event loop (aiohttp), in a thread of their
own, with one session: connections are reused per host, and a capture costs a coroutine rather than
a thread of its own (a third of the CPU per snapshot of a requests session per thread, measured by
``manage.py bench_fetch``). The deadline is hard: the whole exchange (name resolution, connect,
headers, body, redirects, a digest retry) runs under one ``asyncio.timeout``, which cancels it
wherever it waits. Name resolution runs in the loop's own thread pool; a lookup that hangs past
its deadline is abandoned there, the capture has already failed on time.
"""

import asyncio
import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import aiohttp
from django.conf import settings

from cameras.sources.errors import CaptureError

USER_AGENT = "camtrack/1"
GRACE_S = 0.25  # lets a capture that ends at the deadline report its own error class
MAX_REDIRECTS = 5
RESOLVER_THREADS = 32  # name lookups that may hang at once without holding up the others

_state: tuple[int, asyncio.AbstractEventLoop, "_Client"] | None = None
_state_lock = threading.Lock()


class _Client:
    """The loop's session and what it learnt: which URLs answer with a digest challenge."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.digest_urls: set[str] = set()

    def get_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=4, ttl_dns_cache=60, enable_cleanup_closed=True)
            self.session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT},
                auto_decompress=False,  # a camera's bytes exactly as sent
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self.session


def _loop() -> tuple[asyncio.AbstractEventLoop, _Client]:
    # One loop per process: a loop (and its sockets) inherited across fork is not this process's.
    global _state
    with _state_lock:
        if _state is None or _state[0] != os.getpid():
            loop = asyncio.new_event_loop()
            loop.set_default_executor(ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="http-resolve"))
            threading.Thread(target=loop.run_forever, name="http-capture", daemon=True).start()
            client = _Client()
            atexit.register(_close, loop, client)
            _state = (os.getpid(), loop, client)
        return _state[1], _state[2]


def _close(loop: asyncio.AbstractEventLoop, client: _Client) -> None:
    """Close the session's connections when the process ends (not a worker's forked child's copy)."""
    if client.session is not None and not client.session.closed and loop.is_running():
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(client.session.close(), loop).result(2)


def _classify(exc: BaseException) -> CaptureError:
    if isinstance(exc, aiohttp.TooManyRedirects):
        return CaptureError("redirect_loop", "too many redirects")
    if isinstance(exc, aiohttp.ClientSSLError):
        return CaptureError("tls", "TLS handshake failed")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return CaptureError("dns", "host name does not resolve")
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return CaptureError("refused", "connection refused")
        return CaptureError("connection", type(exc.os_error).__name__)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return CaptureError("empty", "connection closed without an answer")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return CaptureError("truncated", "connection closed mid-body")
    return CaptureError("connection", type(exc).__name__)


async def _body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise CaptureError("too_large", f"body of {declared} bytes exceeds {limit}")
    buf = bytearray()
    async for chunk in resp.content.iter_any():
        buf += chunk
        if len(buf) > limit:
            raise CaptureError("too_large", f"body exceeds {limit} bytes")
    if declared and declared.isdigit() and len(buf) < int(declared):
        raise CaptureError("truncated", f"got {len(buf)} of {declared} bytes")
    return bytes(buf)


async def _mjpeg_frame(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The first complete JPEG of a multipart/x-mixed-replace stream."""
    buf = bytearray()
    async for chunk in resp.content.iter_any():
        buf += chunk
        start = buf.find(b"\xff\xd8\xff")
        if start >= 0:
            end = buf.find(b"\xff\xd9", start + 3)
            if end >= 0:
                return bytes(buf[start : end + 2])
        if len(buf) > limit:
            raise CaptureError("too_large", f"no frame within {limit} bytes")
    raise CaptureError("truncated" if buf else "empty", "stream ended before a whole frame")


async def _fetch(client: _Client, config, digest: bool) -> tuple[aiohttp.ClientResponse | None, bytes]:
    """One exchange; (response, b"") when it asks for digest credentials we have not sent yet."""
    session = client.get_session()
    kwargs: dict = {"allow_redirects": True, "max_redirects": MAX_REDIRECTS}
    if config.username or config.password:
        if digest:
            kwargs["middlewares"] = (aiohttp.DigestAuthMiddleware(config.username, config.password),)
        else:
            kwargs["auth"] = aiohttp.BasicAuth(config.username, config.password)
    limit = settings.CAMTRACK_MAX_FRAME_BYTES
    async with session.get(config.url, **kwargs) as resp:
        challenge = resp.headers.get("WWW-Authenticate", "").lower()
        if resp.status == 401 and not digest and "auth" in kwargs and "digest" in challenge:
            client.digest_urls.add(config.url)
            return resp, b""
        if resp.status in (401, 403):
            raise CaptureError("auth_failed", f"HTTP {resp.status}")
        if resp.status != 200:
            raise CaptureError(f"http_{resp.status}", resp.reason or "")
        if resp.headers.get("Content-Type", "").lower().startswith("multipart/"):
            return None, await _mjpeg_frame(resp, limit)
        return None, await _body(resp, limit)


async def _grab(client: _Client, config, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise CaptureError("timeout", "deadline passed")
    try:
        async with asyncio.timeout(left):
            digest = config.url in client.digest_urls
            challenged, data = await _fetch(client, config, digest)
            if challenged is not None:
                _, data = await _fetch(client, config, True)
            return data
    except TimeoutError:
        raise CaptureError("timeout", "no answer in time") from None
    except aiohttp.ClientError as exc:
        raise _classify(exc) from None


def grab_many(configs: list, convert: Callable[[bytes], object]) -> list[Future]:
    """Start fetching several cameras side by side, handed to the loop once for them all (a hand-over
    per capture costs about as much CPU as the fetch itself). Each camera keeps its own deadline;
    each future gives (convert(bytes) or CaptureError, ms, time.time() at its end) and never raises.
    """
    loop, client = _loop()
    now = time.monotonic()
    futures: list[Future] = [Future() for _ in configs]

    def settle(future: Future, outcome: object, ms: float) -> None:
        with contextlib.suppress(InvalidStateError):  # the caller gave up on it
            future.set_result((outcome, ms, time.time()))

    async def one(config, future: Future) -> None:
        start = time.perf_counter()
        try:
            outcome = convert(await _grab(client, config, now + config.timeout_s))
        except CaptureError as exc:
            settle(future, exc, 0.0)
        except Exception as exc:  # never leave a future unsettled
            settle(future, CaptureError("connection", type(exc).__name__), 0.0)
        else:
            settle(future, outcome, (time.perf_counter() - start) * 1000)

    async def run() -> None:
        await asyncio.gather(*(one(c, f) for c, f in zip(configs, futures, strict=True)))

    loop.call_soon_threadsafe(lambda: loop.create_task(run()))
    return futures


def grab(config, deadline: float) -> bytes:
    """One frame from an HTTP camera by ``deadline`` (time.monotonic()), or CaptureError."""
    loop, client = _loop()
    future = asyncio.run_coroutine_threadsafe(_grab(client, config, deadline), loop)
    try:
        return future.result(timeout=max(deadline - time.monotonic(), 0) + GRACE_S)
    except FutureTimeout:
        future.cancel()
        raise CaptureError("timeout", "no answer in time") from None
