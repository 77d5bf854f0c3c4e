"""HTTP(S) snapshot cameras: a JPEG or PNG per request, or one frame of an MJPEG stream.

Connections are reused per io thread and host. The deadline is enforced per socket read, so a
camera that drips bytes cannot hold a thread past it.
"""

import socket
import threading
import time

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from cameras.sources.errors import CaptureError

_local = threading.local()
USER_AGENT = "camtrack/1"


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.max_redirects = 5
        session.trust_env = False
        session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=256, pool_maxsize=4, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
        _local.digest_urls = set()
    return session


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
        except (TimeoutError, socket.timeout):
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


def grab(config, deadline: float) -> bytes:
    session = _session()
    limit = settings.CAMTRACK_MAX_FRAME_BYTES
    auth = _auth(config, _local.digest_urls)
    left = _remaining(deadline)
    try:
        resp = session.get(config.url, auth=auth, stream=True, timeout=(min(left, 10.0), left))
    except requests.RequestException as exc:
        raise _classify(exc) from None
    try:
        if resp.status_code == 401 and auth is not None and "digest" in resp.headers.get("WWW-Authenticate", "").lower():
            resp.close()
            _local.digest_urls.add(config.url)
            auth = HTTPDigestAuth(config.username, config.password)
            try:
                resp = session.get(config.url, auth=auth, stream=True, timeout=(min(left, 10.0), _remaining(deadline)))
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
