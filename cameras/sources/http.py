"""HTTP(S) snapshot cameras: a JPEG or PNG per request, or one frame of an MJPEG stream.

Connections are reused per io thread and host. The deadline is hard: each io thread hands its
requests to one helper thread that owns its session, and waits at most until the deadline. Socket
timeouts alone are not enough: name resolution (getaddrinfo) ignores them, a server dripping its
headers resets the read timeout with every byte, and each redirect starts the clock again. An
overdue helper is abandoned: its sockets are shut down so it ends quickly, and the io thread gets a
fresh helper and session.
"""

import contextlib
import socket
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth, HTTPDigestAuth
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from cameras.sources.errors import CaptureError

_local = threading.local()  # per io thread: its helper
_helper_local = threading.local()  # per helper thread: the helper that owns it
USER_AGENT = "camtrack/1"
GRACE_S = 0.25  # lets a helper that ends at the deadline report its own error class


class _Abandoned(Exception):
    pass


def _track(sock: socket.socket | None) -> None:
    helper = getattr(_helper_local, "helper", None)
    if helper is None or sock is None:
        return
    helper.sockets.add(sock)
    if helper.abandoned:  # resolution finished after the io thread gave up: stop here
        raise _Abandoned("capture abandoned at its deadline")


class _TrackedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _track(sock)
        return sock


class _TrackedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _track(sock)
        return sock

    def connect(self) -> None:
        super().connect()
        _track(self.sock)  # the TLS socket replaces the plain one


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


def _new_session() -> requests.Session:
    session = requests.Session()
    session.max_redirects = 5
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(pool_connections=256, pool_maxsize=4, max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _Helper:
    """One helper thread and the session it owns, for one io thread."""

    def __init__(self) -> None:
        self.session = _new_session()
        self.digest_urls: set[str] = set()
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.abandoned = False
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="http-capture", initializer=self._bind)

    def _bind(self) -> None:
        _helper_local.helper = self

    def abandon(self) -> None:
        """Cut an overdue request short: shutting its sockets down wakes any blocked read at once."""
        self.abandoned = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.executor.shutdown(wait=False)


def _helper() -> _Helper:
    helper = getattr(_local, "helper", None)
    if helper is None:
        helper = _local.helper = _Helper()
    return helper


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise CaptureError("timeout", "deadline passed")
    return left


def _classify(exc: requests.RequestException) -> CaptureError:
    text = str(exc)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return CaptureError("redirect_loop", "too many redirects")
    if isinstance(exc, requests.Timeout) or "timed out" in text:
        return CaptureError("timeout", "no answer in time")
    if isinstance(exc, requests.exceptions.SSLError):
        return CaptureError("tls", "TLS handshake failed")
    if "Name or service not known" in text or "NameResolutionError" in text or "getaddrinfo" in text:
        return CaptureError("dns", "host name does not resolve")
    if "Connection refused" in text:
        return CaptureError("refused", "connection refused")
    if "RemoteDisconnected" in text or "without response" in text:
        return CaptureError("empty", "connection closed without an answer")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return CaptureError("truncated", "connection closed mid-body")
    return CaptureError("connection", type(exc).__name__)


def _auth(config, digest_urls: set) -> requests.auth.AuthBase | None:
    if not config.username and not config.password:
        return None
    if config.url in digest_urls:
        return HTTPDigestAuth(config.username, config.password)
    return HTTPBasicAuth(config.username, config.password)


def _read_chunks(resp: requests.Response, deadline: float):
    """Yield body chunks as they arrive, each socket read bounded by the time left."""
    raw = resp.raw
    sock = None
    conn = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    if conn is not None:
        sock = getattr(conn, "sock", None)
    while True:
        left = _remaining(deadline)
        if sock is not None:
            sock.settimeout(left)
        try:
            chunk = raw.read1(65536) if hasattr(raw, "read1") else raw.read(65536)
        except TimeoutError:
            raise CaptureError("timeout", "camera stopped sending") from None
        except Exception as exc:  # urllib3 wraps socket errors in its own types
            if "timed out" in str(exc):
                raise CaptureError("timeout", "camera stopped sending") from None
            raise CaptureError("truncated", "connection closed mid-body") from None
        if not chunk:
            return
        yield chunk


def _read_body(resp: requests.Response, deadline: float, limit: int) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise CaptureError("too_large", f"body of {declared} bytes exceeds {limit}")
    buf = bytearray()
    for chunk in _read_chunks(resp, deadline):
        buf += chunk
        if len(buf) > limit:
            raise CaptureError("too_large", f"body exceeds {limit} bytes")
    if declared and declared.isdigit() and len(buf) < int(declared):
        raise CaptureError("truncated", f"got {len(buf)} of {declared} bytes")
    # Read to the end: mark it so close() hands the connection back to the pool for reuse.
    resp._content_consumed = True
    return bytes(buf)


def _read_mjpeg_frame(resp: requests.Response, deadline: float, limit: int) -> bytes:
    """Take the first complete JPEG from a multipart/x-mixed-replace stream."""
    buf = bytearray()
    for chunk in _read_chunks(resp, deadline):
        buf += chunk
        start = buf.find(b"\xff\xd8\xff")
        if start >= 0:
            end = buf.find(b"\xff\xd9", start + 3)
            if end >= 0:
                return bytes(buf[start : end + 2])
        if len(buf) > limit:
            raise CaptureError("too_large", f"no frame within {limit} bytes")
    raise CaptureError("truncated" if buf else "empty", "stream ended before a whole frame")


def _grab(helper: _Helper, config, deadline: float) -> bytes:
    session = helper.session
    limit = settings.CAMTRACK_MAX_FRAME_BYTES
    auth = _auth(config, helper.digest_urls)
    left = _remaining(deadline)
    try:
        resp = session.get(config.url, auth=auth, stream=True, timeout=(min(left, 10.0), left))
    except requests.RequestException as exc:
        raise _classify(exc) from None
    try:
        challenge = resp.headers.get("WWW-Authenticate", "").lower()
        if resp.status_code == 401 and auth is not None and "digest" in challenge:
            resp.close()
            helper.digest_urls.add(config.url)
            auth = HTTPDigestAuth(config.username, config.password)
            left = _remaining(deadline)
            try:
                resp = session.get(config.url, auth=auth, stream=True, timeout=(min(left, 10.0), left))
            except requests.RequestException as exc:
                raise _classify(exc) from None
        if resp.status_code in (401, 403):
            raise CaptureError("auth_failed", f"HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise CaptureError(f"http_{resp.status_code}", resp.reason or "")
        content_type = resp.headers.get("Content-Type", "").lower()
        if content_type.startswith("multipart/"):
            return _read_mjpeg_frame(resp, deadline, limit)
        return _read_body(resp, deadline, limit)
    finally:
        resp.close()


def grab(config, deadline: float) -> bytes:
    helper = _helper()
    future = helper.executor.submit(_grab, helper, config, deadline)
    try:
        return future.result(timeout=max(deadline - time.monotonic(), 0) + GRACE_S)
    except FutureTimeout:
        helper.abandon()
        _local.helper = None
        raise CaptureError("timeout", "no answer in time") from None
