"""Start and steer the GStreamer RTSP server (devtools/rtsp_server.py) from the project's Python.

The server runs under Debian's /usr/bin/python3, which has ``gi``; tests and benchmarks drive it
through this module: start, stall and resume clip mounts, read its session counts, kill it and
start it again on the same port.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from devtools import framegen
from devtools.net import free_port

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with gi; the venv has none
SERVER = Path(__file__).with_name("rtsp_server.py")
READY_TIMEOUT_S = 15.0
CLOCK_PREFIX = "CLOCK-"


@functools.cache
def gstreamer_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    if not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0


@functools.cache
def x265_available() -> bool:
    tool = shutil.which("gst-inspect-1.0")
    if tool is None:
        return False
    return subprocess.run([tool, "--exists", "x265enc"], timeout=30, capture_output=True).returncode == 0


def clock_clip(*, fps: int = 10, gop_s: float = 2.0, size: tuple[int, int] = (1280, 720)) -> Path:
    """A 60 s H.264 clip whose second ``s`` shows a QR code ``CLOCK-ss``, made once and cached.

    Served by a clip mount, a decoded code names the wall-clock second (mod 60) its picture was sent.
    """
    # The server's code is part of the key: a change to how clips are made makes a new one.
    key = hashlib.sha256(f"{fps}:{gop_s}:{size}:".encode() + SERVER.read_bytes()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / "camtrack-clips"
    cache.mkdir(exist_ok=True)
    clip = cache / f"clock-{fps}fps-{gop_s}s-{size[0]}x{size[1]}-{key}.h264"
    if clip.exists():
        return clip
    frames = Path(tempfile.mkdtemp(prefix="clock-frames-"))
    try:
        for second in range(60):
            gray = framegen.qr_gray(f"{CLOCK_PREFIX}{second:02d}", size=size, seed=second)
            (frames / f"{second:03d}.png").write_bytes(framegen.png(gray))
        tmp = clip.with_suffix(f".{os.getpid()}.tmp")
        cmd = [SYSTEM_PYTHON, str(SERVER), "--make-clip", str(tmp), "--frames", str(frames)]
        subprocess.run([*cmd, "--fps", str(fps), "--gop-s", str(gop_s)], check=True, timeout=600, capture_output=True)
        tmp.replace(clip)  # atomic: a concurrent maker's clip is as good as this one
    finally:
        shutil.rmtree(frames, ignore_errors=True)
    return clip


@dataclass
class RtspServer:
    """One server process; ``restart()`` starts the same mounts again on the same port."""

    cmd: list[str]
    port: int
    status_path: Path
    process: subprocess.Popen | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}"

    def url(self, mount: str) -> str:
        return f"{self.base_url}/{mount}"

    def __str__(self) -> str:
        return self.base_url

    def start(self) -> RtspServer:
        proc = subprocess.Popen(
            self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        # readline blocks; a timer kills a server that never gets ready so the caller fails instead of hanging.
        timer = threading.Timer(READY_TIMEOUT_S, proc.kill)
        timer.start()
        try:
            line = proc.stdout.readline().strip()
        finally:
            timer.cancel()
        if line != "READY":
            proc.kill()
            _, err = proc.communicate(timeout=5)
            raise RuntimeError(f"RTSP server did not start: {line!r} {err[-2000:]}")
        self.process = proc
        return self

    def send(self, line: str) -> None:
        with self._lock:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()

    def stall(self, mount: str = "*") -> None:
        """Clip mounts stop sending packets; their sessions stay open."""
        self.send(f"stall {mount}")

    def resume(self, mount: str = "*") -> None:
        self.send(f"resume {mount}")

    def status(self) -> dict:
        """``{"playing": {mount: sessions now}, "plays": {mount: sessions ever started}}``."""
        return json.loads(self.status_path.read_text())

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def restart(self) -> RtspServer:
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_rtsp_server(
    mounts: dict[str, Path] | None = None,
    *,
    h265: dict[str, Path] | None = None,
    auth: dict[str, tuple[str, str]] | None = None,
    stall: dict[str, Path] | None = None,
    clips: dict[str, Path] | None = None,
    fps: int = 10,
) -> RtspServer:
    """Start devtools/rtsp_server.py on a free port and wait for READY."""
    port = free_port()
    status = Path(tempfile.mkstemp(prefix="rtsp-status-", suffix=".json")[1])
    cmd = [SYSTEM_PYTHON, str(SERVER), "--port", str(port), "--status", str(status), "--fps", str(fps)]
    for flag, items in (("--mount", mounts), ("--h265-mount", h265), ("--stall-mount", stall), ("--clip-mount", clips)):
        for name, path in (items or {}).items():
            cmd += [flag, f"{name}={path}"]
    for name, (user, password) in (auth or {}).items():
        cmd += ["--auth-mount", f"{name}:{user}:{password}"]
    return RtspServer(cmd=cmd, port=port, status_path=status).start()
