"""A built-in camera simulator: many HTTP cameras showing moving QR codes, plus cameras that misbehave.

Paths (every camera name is one the simulator was told about, see ``cameras=`` and ``set_payload``):

    /cam/<name>.jpg           JPEG snapshot (``?text=...`` renders that payload instead)
    /cam/<name>.mjpg          multipart/x-mixed-replace MJPEG stream (``?fps=``)
    /cam/<name>/payload       the payload the camera shows now (empty body: no code in view)
    /auth/<name>.jpg          the same snapshot behind HTTP Basic auth
    /auth-digest/<name>.jpg   the same snapshot behind HTTP Digest auth
    /fault/<mode>.jpg         a camera that fails one way; /fault/<mode>/<name>.jpg works too

Fault modes: hang, slow, 500, html, truncated, bomb, auth, digest, close, empty (see FAULTS).

Runs without Django: ``python -m devtools.simulator --port 8554 --cameras 8``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import hmac
import math
import re
import secrets
import socket
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

import cv2
import numpy as np
import segno

WIDTH, HEIGHT = 1280, 720
JPEG_QUALITY = 75
REALM = "camtrack-sim"
BOUNDARY = "camtrackframe"
FAULTS = ("hang", "slow", "500", "html", "truncated", "bomb", "auth", "digest", "close", "empty")
LOGIN_PAGE = (
    b"<!doctype html><html><head><title>IP Camera Login</title></head><body>"
    b"<form method=post action=/login><input name=user><input name=pass type=password>"
    b"<button>Log in</button></form></body></html>"
)
_NAME = r"(?P<name>[A-Za-z0-9_.~-]+?)"
ROUTES = [
    (re.compile(rf"^/cam/{_NAME}\.(?P<kind>jpg|mjpg)$"), "cam"),
    (re.compile(rf"^/cam/{_NAME}/payload$"), "payload"),
    (re.compile(rf"^/auth/{_NAME}\.(?P<kind>jpg|mjpg)$"), "basic"),
    (re.compile(rf"^/auth-digest/{_NAME}\.(?P<kind>jpg|mjpg)$"), "digest"),
    (re.compile(r"^/fault/(?P<mode>[a-z0-9]+)(?:/" + _NAME + r")?\.jpg$"), "fault"),
]


def _stable(text: str) -> int:
    """A hash that is the same in every process (str hash is salted)."""
    return zlib.crc32(text.encode())


@functools.cache
def _backgrounds(count: int = 3, noise_variants: int = 3) -> list[list[np.ndarray]]:
    """A few warehouse-ish scenes, each with a few noise variants; cameras (and simulators) share them."""
    scenes = []
    for seed in range(count):
        rng = np.random.default_rng(seed)
        ys = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None]
        xs = np.linspace(0, 1, WIDTH, dtype=np.float32)[None, :]
        base = 70 + 60 * ys + 25 * xs * (seed + 1) / count  # uneven lighting
        for _ in range(14):  # shelves, boxes, pallets
            x, y = int(rng.integers(0, WIDTH - 100)), int(rng.integers(0, HEIGHT - 60))
            w, h = int(rng.integers(80, 420)), int(rng.integers(40, 260))
            base[y : y + h, x : x + w] = rng.integers(40, 200)
        base = cv2.GaussianBlur(base, (0, 0), 3)
        variants = []
        for _ in range(noise_variants):
            noisy = base + rng.normal(0, 3, base.shape).astype(np.float32)
            variants.append(np.clip(noisy, 0, 255).astype(np.uint8))
        scenes.append(variants)
    return scenes


# A parcel's label is the same in each of its frames; only its place and the noise change. Building
# the symbol (segno's mask search, in Python) cost a third of the simulator's CPU before this cache.
@functools.lru_cache(maxsize=4096)
def qr_image(text: str, size: int = 260) -> np.ndarray:
    """A printed label: the QR code (never Micro QR) with its quiet zone, dark modules near black.

    Shared between frames (cached), so read-only."""
    qr = segno.make_qr(text, error="m")
    matrix = np.array(qr.matrix, dtype=np.uint8)
    modules = np.pad(matrix, 4)  # the 4-module quiet zone readers need
    scale = max(3, size // modules.shape[0])
    label = np.where(modules == 1, 25, 235).astype(np.uint8)
    image = np.kron(label, np.ones((scale, scale), dtype=np.uint8))
    image.setflags(write=False)
    return image


def render_frame(text: str | None, *, scene: np.ndarray, step: int, phase: int = 0) -> np.ndarray:
    """One grayscale frame: the scene, and if text is given its QR label somewhere along a slow path."""
    frame = scene.copy()
    if text:
        label = qr_image(text)
        h, w = label.shape
        span_x, span_y = max(WIDTH - w - 80, 0), max(HEIGHT - h - 80, 0)
        angle = step * 0.9 + (phase % 628) / 100
        x = 40 + int(span_x * (0.5 + 0.5 * math.sin(angle)))
        y = 40 + int(span_y * (0.5 + 0.5 * math.cos(angle * 0.7)))
        frame[y : y + h, x : x + w] = label[: HEIGHT - y, : WIDTH - x]
    return frame


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _own_frame(data: bytes, stamp: str) -> bytes:
    """The JPEG with a comment segment (COM) right after its start marker, naming this very frame."""
    comment = stamp.encode()
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + data[2:]


def bomb_jpeg(width: int = 30000, height: int = 30000) -> bytes:
    """A small, well-formed JPEG whose frame header claims a huge size (decompression bomb)."""
    data = bytearray(encode_jpeg(np.full((16, 16), 128, np.uint8)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


class Simulator:
    """Simulated cameras over HTTP. Payloads change every ``payload_period_s``; the code moves
    ``frames_per_payload`` times per payload.

    Like a real sensor's, every frame has its own noise: consecutive frames of a camera cycle through
    ``noise_variants`` noisy versions of the same picture, and each response carries its own JPEG
    comment, so no two frames are byte-identical and nothing downstream can win by comparing bytes.
    Encoded pictures are cached per (scene, code, position, noise), so serving costs a copy, not an
    encode (~3 ms), once a picture has been seen. With ``pool`` > 0 a camera shows a different code
    at a different place in every frame (PARCEL-pool-<i>, from a pool of that many pictures): the
    scene where everything changes all the time.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        cameras: int | Iterable[str] = 8,
        empty_ratio: float = 0.0,
        username: str = "admin",
        password: str = "secret",  # noqa: S107 - a simulator's demo credential, not a secret
        prefix: str = "sim",
        payload_period_s: float = 5.0,
        frames_per_payload: int = 2,
        clock: Callable[[], float] = time.time,
        cache_size: int = 512,
        noise_variants: int = 8,
        pool: int = 0,
    ) -> None:
        self.names: list[str] = (
            [f"{prefix}-{i:02d}" for i in range(1, cameras + 1)] if isinstance(cameras, int) else list(cameras)
        )
        self.empty_ratio = empty_ratio
        self.username, self.password = username, password
        self.payload_period_s = payload_period_s
        self.frames_per_payload = max(1, frames_per_payload)
        self.clock = clock
        self._overrides: dict[str, str] = {}
        self._known = set(self.names)
        self.noise_variants = max(1, noise_variants)
        self.pool = pool
        self._scenes = _backgrounds(noise_variants=self.noise_variants)
        self._served: dict[str, int] = {}
        self.renders = 0  # JPEG encodes so far (the rest were served from the cache)
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._inflight: dict[tuple, threading.Event] = {}
        self._lock = threading.Lock()
        self._bomb = bomb_jpeg()
        self._nonce_key = secrets.token_bytes(16)
        self.stopping = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.sim = self
        self._thread: threading.Thread | None = None

    # --- public API ----------------------------------------------------------------------------
    @property
    def host(self) -> str:
        host = self._server.server_address[0]
        return "127.0.0.1" if host in ("0.0.0.0", "") else host

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, name: str, kind: str = "jpg") -> str:
        """URL of a camera: kind is jpg, mjpg, payload, auth or auth-digest (faults: fault_url)."""
        if kind in ("jpg", "mjpg"):
            return f"{self.base_url}/cam/{name}.{kind}"
        if kind == "payload":
            return f"{self.base_url}/cam/{name}/payload"
        if kind in ("auth", "auth-digest"):
            return f"{self.base_url}/{kind}/{name}.jpg"
        raise ValueError(f"unknown kind {kind!r}")

    def fault_url(self, mode: str, name: str | None = None) -> str:
        """URL of a camera failing in one of FAULTS; the name only changes the frame auth/slow/truncated use."""
        return f"{self.base_url}/fault/{mode}/{name}.jpg" if name else f"{self.base_url}/fault/{mode}.jpg"

    def set_payload(self, name: str, text: str | None) -> None:
        """Make a camera (new or existing) show exactly this text in every frame; "" shows no code at all
        (an empty scene); None restores the clock."""
        with self._lock:
            self._known.add(name)
            if name not in self.names:
                self.names.append(name)
            if text is None:
                self._overrides.pop(name, None)
            else:
                self._overrides[name] = text

    def payload(self, name: str, now: float | None = None) -> str | None:
        """The text the camera shows at ``now``, or None when its frame has no code."""
        if name in self._overrides:
            return self._overrides[name] or None
        slot = int(((self.clock() if now is None else now) + self._phase(name)) // self.payload_period_s)
        if self.empty_ratio > 0 and _stable(f"{name}:{slot}") / 2**32 < self.empty_ratio:
            return None
        return f"PARCEL-{name}-{slot}"

    def _phase(self, name: str) -> float:
        # Each camera changes payload at its own moment, so a thousand cameras don't render at once.
        return (_stable(name) % 1000) / 1000 * self.payload_period_s

    def snapshot(self, name: str, text: str | None = None) -> tuple[bytes, str | None]:
        """(JPEG, payload shown) for the camera now; ``text`` forces a payload."""
        now = self.clock()
        h = _stable(name)
        with self._lock:
            served = self._served[name] = self._served.get(name, -1) + 1
        if self.pool and text is None and name not in self._overrides:
            i = (served + h) % self.pool
            text = f"PARCEL-pool-{i}"
            key = (i % len(self._scenes), text, i, i * 7919, 0)
        else:
            if text is None:
                text = self.payload(name, now)
            step = int((now + self._phase(name)) // (self.payload_period_s / self.frames_per_payload))
            # An empty scene looks the same on every camera that shares it: one set of encodes for all.
            key = (h % len(self._scenes), text, step if text else 0, h if text else 0, served % self.noise_variants)
        return _own_frame(self._cached(key), f"{name} {served}"), text

    def is_known(self, name: str) -> bool:
        return name in self._known

    def start(self) -> Simulator:
        # A short poll interval: stop() waits for the loop to notice, and tests stop a simulator often.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="camera-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # releases hanging, dripping and streaming handlers
        self._server.shutdown()
        self._server.close_all()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- frames --------------------------------------------------------------------------------
    def _cached(self, key: tuple) -> bytes:
        # One thread renders a key; concurrent requests for it wait instead of rendering it again.
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            event = self._inflight.get(key)
            owner = event is None
            if owner:
                event = self._inflight[key] = threading.Event()
        if not owner:
            event.wait(5)
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None:
                return hit
        try:
            data = self._render(*key)
            with self._lock:
                self._cache[key] = data
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return data
        finally:
            if owner:
                with self._lock:
                    self._inflight.pop(key, None)
                event.set()

    def _render(self, scene: int, text: str | None, step: int, phase: int, noise: int) -> bytes:
        self.renders += 1
        frame = render_frame(text, scene=self._scenes[scene][noise % self.noise_variants], step=step, phase=phase)
        return encode_jpeg(frame)

    # --- digest auth ---------------------------------------------------------------------------
    def digest_nonce(self) -> str:
        # Stateless: a timestamp signed with a per-process key, so any thread can check it.
        stamp = f"{int(time.time()):x}"
        return stamp + hmac.new(self._nonce_key, stamp.encode(), "sha256").hexdigest()[:24]

    def digest_nonce_ok(self, nonce: str) -> bool:
        stamp, sig = nonce[:-24], nonce[-24:]
        good = hmac.new(self._nonce_key, stamp.encode(), "sha256").hexdigest()[:24]
        return hmac.compare_digest(sig, good)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # bursts of connections from a thread pool
    sim: Simulator

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: object) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up (a capture cut at its deadline) are normal here, not tracebacks on stderr.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_all(self) -> None:
        # Idle keep-alive connections would otherwise keep their threads (and the port) busy.
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: pollers reuse connections
    server_version = "camtrack-sim/1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = 30  # an idle keep-alive connection frees its thread after this
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # hundreds of requests a second; access logs would cost more than the frames

    # --- responses -----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8", headers)

    def _snapshot(self, name: str, query: dict[str, list[str]]) -> None:
        text = query["text"][0] if "text" in query else None
        data, shown = self.server.sim.snapshot(name, text)
        self._send(200, data, "image/jpeg", {"X-Sim-Payload": quote(shown or "", safe="")})

    def _stream(self, name: str, query: dict[str, list[str]]) -> None:
        sim = self.server.sim
        fps = min(max(float(query.get("fps", ["5"])[0]), 0.2), 30.0)
        text = query["text"][0] if "text" in query else None
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            while not sim.stopping.is_set():
                data, _ = sim.snapshot(name, text)
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                self.wfile.write(head.encode() + data + b"\r\n")
                sim.stopping.wait(1 / fps)
        except OSError:
            pass  # the viewer went away

    # --- auth ----------------------------------------------------------------------------------
    def _basic_ok(self) -> bool:
        sim = self.server.sim
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(user, sim.username) & hmac.compare_digest(password, sim.password)

    def _digest_ok(self) -> bool:
        sim = self.server.sim
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("digest "):
            return False
        fields = parse_keqv_list(parse_http_list(header[7:]))
        if fields.get("username") != sim.username or not sim.digest_nonce_ok(fields.get("nonce", "")):
            return False
        ha1 = _md5(f"{sim.username}:{REALM}:{sim.password}")
        ha2 = _md5(f"{self.command}:{fields.get('uri', '')}")
        if fields.get("qop"):
            parts = [ha1, fields["nonce"], fields.get("nc", ""), fields.get("cnonce", ""), fields["qop"], ha2]
        else:
            parts = [ha1, fields["nonce"], ha2]
        return hmac.compare_digest(_md5(":".join(parts)), fields.get("response", ""))

    def _authorized(self, scheme: str) -> bool:
        return self._basic_ok() if scheme == "basic" else self._digest_ok()

    def _challenge(self, scheme: str) -> None:
        if scheme == "basic":
            value = f'Basic realm="{REALM}"'
        else:
            value = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{self.server.sim.digest_nonce()}"'
        self._text(401, "authentication required\n", {"WWW-Authenticate": value})

    # --- faults --------------------------------------------------------------------------------
    def _promise_jpeg(self, name: str) -> bytes:
        """Headers announcing a whole JPEG, then closing: what the slow and truncated faults then break."""
        data, _ = self.server.sim.snapshot(name)
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return data

    def _fault(self, mode: str, name: str, query: dict[str, list[str]]) -> None:
        sim = self.server.sim
        if mode == "hang":
            self.close_connection = True
            sim.stopping.wait()
        elif mode == "slow":
            data = self._promise_jpeg(name)
            try:
                for i in range(0, len(data), 4):  # 16 bytes a second: a ~60 kB frame takes an hour
                    if sim.stopping.wait(0.25):
                        break
                    self.wfile.write(data[i : i + 4])
            except OSError:
                pass
        elif mode == "500":
            self._text(500, "internal error\n")
        elif mode == "html":
            self._send(200, LOGIN_PAGE, "image/jpeg")  # the lie some cameras tell
        elif mode == "truncated":
            data = self._promise_jpeg(name)
            self.wfile.write(data[: len(data) // 2])
        elif mode == "bomb":
            self._send(200, sim._bomb, "image/jpeg")
        elif mode in ("auth", "digest"):
            scheme = "basic" if mode == "auth" else "digest"
            if self._authorized(scheme):
                self._snapshot(name, query)
            else:
                self._challenge(scheme)
        elif mode == "close":
            self.close_connection = True  # the socket closes with no status line at all
        elif mode == "empty":
            self._send(200, b"", "image/jpeg")
        else:
            self._text(404, f"unknown fault {mode!r}; known: {', '.join(FAULTS)}\n")

    # --- routing -------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        sim = self.server.sim
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path in ("/", ""):
            lines = [sim.url(name) for name in sim.names]
            self._text(200, "\n".join(lines) + "\n")
            return
        found = next(((m, route) for pattern, route in ROUTES if (m := pattern.match(parts.path))), None)
        if found is None:
            self._text(404, "not found\n")
            return
        match, route = found
        params = match.groupdict()
        name = params.get("name") or ""
        if route == "fault":
            self._fault(params["mode"], name or f"fault-{params['mode']}", query)
            return
        if not sim.is_known(name):
            self._text(404, f"no camera {name!r}\n")
            return
        if route == "payload":
            shown = sim.payload(name)
            self._text(200, shown or "", {"X-Sim-Empty": "1" if shown is None else "0"})
            return
        if route in ("basic", "digest") and not self._authorized(route):
            self._challenge(route)
            return
        if params.get("kind") == "mjpg":
            self._stream(name, query)
        else:
            self._snapshot(name, query)

    do_HEAD = do_GET  # noqa: N815


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve simulated HTTP cameras showing QR codes.")
    add_arguments(parser)
    opts = parser.parse_args(argv)
    serve(from_options(vars(opts)), print)


def serve(sim: Simulator, write: Callable[[str], object]) -> None:
    """Serve in the foreground until Ctrl-C."""
    sim.start()
    print_urls(sim, write)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``python -m devtools.simulator`` and ``manage.py simulate``."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--cameras", type=int, default=8, help="number of cameras")
    parser.add_argument("--prefix", default="sim", help="camera names are <prefix>-01, <prefix>-02 ...")
    parser.add_argument("--empty-ratio", type=float, default=0.0, help="share of payload periods without a code")
    parser.add_argument("--period", type=float, default=5.0, help="seconds between new payloads")
    parser.add_argument("--moves", type=int, default=2, help="positions of the code per payload")
    parser.add_argument("--cache-size", type=int, default=512, help="encoded frames kept in memory")
    parser.add_argument("--noise-variants", type=int, default=8, help="noisy versions of each picture, in turn")
    parser.add_argument("--pool", type=int, default=0, help="a different code in every frame, from this many")
    parser.add_argument("--username", default="admin", help="for /auth/... and /fault/auth")
    parser.add_argument("--password", default="secret")


def from_options(opts: dict) -> Simulator:
    return Simulator(
        host=opts["host"],
        port=opts["port"],
        cameras=opts["cameras"],
        prefix=opts["prefix"],
        empty_ratio=opts["empty_ratio"],
        payload_period_s=opts["period"],
        frames_per_payload=opts.get("moves", 2),
        cache_size=opts.get("cache_size", 512),
        noise_variants=opts.get("noise_variants", 8),
        pool=opts.get("pool", 0),
        username=opts["username"],
        password=opts["password"],
    )


def print_urls(sim: Simulator, write: Callable[[str], object]) -> None:
    write(f"camera simulator on {sim.base_url} (Ctrl-C stops)")
    for name in sim.names:
        write(f"  {name}: {sim.url(name)}  mjpeg {sim.url(name, 'mjpg')}")
    write(f"  basic auth ({sim.username}): {sim.url(sim.names[0], 'auth') if sim.names else ''}")
    write("  faults: " + " ".join(sim.fault_url(mode) for mode in FAULTS))


if __name__ == "__main__":
    main()
