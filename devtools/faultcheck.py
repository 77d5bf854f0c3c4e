"""The capture acceptance run: healthy and faulty cameras side by side on real processes.

Starts the camera simulator, a TCP listener that never answers (a silent RTSP camera), a refused
port and, where GStreamer is installed, an RTSP server; registers healthy cameras (one behind Basic
auth, one an RTSP camera in stream mode) and one camera per fault; runs beat, io, cpu, streams and
the web process from the Procfile; then checks that the
healthy cameras kept their rate, that every faulty one is flagged with its error class and saw
nothing, that ``manage.py capture`` on the hanging camera returns in time, and that the cameras'
passwords appear in no page, log, command output or stored error.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis
import requests
from django.conf import settings
from django.contrib.auth.models import User

from cameras.models import Camera, CameraEvent, Snapshot
from cameras.services import camera_upsert
from detections.models import Detection
from devtools.bench import procs
from devtools.net import SilentListener, free_port
from devtools.rtsp import RtspServer, clock_clip, gstreamer_available, start_rtsp_server
from devtools.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent

# Fault -> the error classes that are right for it. "close" hangs up without a status line.
FAULTS: dict[str, set[str]] = {
    "hang": {"timeout"},
    "slow": {"timeout"},
    "500": {"http_500"},
    "html": {"not_an_image"},
    "truncated": {"truncated"},
    "bomb": {"too_large"},
    "auth": {"auth_failed"},
    "close": {"empty"},
    "rtsp-silent": {"timeout"},
    "rtsp-refused": {"refused"},
}
MIN_RATE = 0.9  # healthy cameras keep this share of their nominal capture rate
STREAM_TIMEOUT_S = 3.0  # the healthy RTSP camera's: a held session keeps a 1 s pace with it
COMMAND_SLACK_S = 2.0  # `manage.py capture` on the hanging camera returns within timeout + this


@dataclass
class Planned:
    name: str
    url: str
    expect: set[str] | None  # error classes that are right; None for a healthy camera
    username: str = ""
    password: str = ""
    mode: str = "snapshot"
    timeout_s: float | None = None  # the scenario's unless set


@dataclass
class CameraResult:
    name: str
    kind: str  # healthy or the fault
    status: str
    error: str  # the error class of the camera's last error
    ok: int
    failed: int
    errors: dict[str, int]
    rate: float  # achieved captures per nominal one
    detections: int
    passed: bool


@dataclass
class Report:
    duration_s: float
    io_threads: int
    interval_s: float
    timeout_s: float
    cameras: list[CameraResult] = field(default_factory=list)
    command: dict = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)
    checked_bytes: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


class Scenario:
    """The servers and cameras of one run; ``close()`` stops everything it started."""

    def __init__(self, *, prefix: str, interval_s: float, timeout_s: float) -> None:
        self.prefix = prefix
        self.password = "pw-" + secrets.token_urlsafe(12)  # the healthy auth camera's, known to the simulator
        self.wrong_password = "wrong-" + secrets.token_urlsafe(12)  # the auth fault camera's
        self.tmp = Path(tempfile.mkdtemp(prefix="faultcheck-"))
        self.healthy = [f"{prefix}-ok-{i}" for i in range(1, 5)]
        self.sim = Simulator(
            port=0, cameras=self.healthy, username="operator", password=self.password, payload_period_s=5.0
        ).start()
        self.silent = SilentListener()
        self.refused_port = free_port()
        self.rtsp: RtspServer | None = None
        if gstreamer_available():
            self.rtsp = start_rtsp_server(clips={"ok": clock_clip(fps=10, gop_s=2.0)})
        self.plan = self._plan()
        self.interval_s, self.timeout_s = interval_s, timeout_s

    def _plan(self) -> list[Planned]:
        sim, p = self.sim, self.prefix
        plan = [Planned(f"{p}-ok-{i}", sim.url(f"{p}-ok-{i}"), None) for i in range(1, 4)]
        plan.append(Planned(f"{p}-ok-4", sim.url(f"{p}-ok-4", "auth"), None, "operator", self.password))
        # Not RTSP: the GStreamer test server takes ~1.35 s per open, too slow for a 1 s interval.
        plan.append(Planned(f"{p}-ok-5", sim.url(f"{p}-ok-1", "mjpg"), None))
        if self.rtsp is not None:
            # 10 fps, 2 s key-frame interval, held by the streams process.
            plan.append(Planned(f"{p}-ok-rtsp", self.rtsp.url("ok"), None, mode="stream", timeout_s=STREAM_TIMEOUT_S))
        for fault, expect in FAULTS.items():
            name = f"{p}-fault-{fault}"
            if fault == "rtsp-silent":
                url = f"rtsp://127.0.0.1:{self.silent.port}/stream"
            elif fault == "rtsp-refused":
                url = f"rtsp://127.0.0.1:{self.refused_port}/stream"
            else:
                url = sim.fault_url(fault, name)
            user, pw = ("operator", self.wrong_password) if fault == "auth" else ("", "")
            plan.append(Planned(name, url, expect, user, pw))
        return plan

    @property
    def secrets(self) -> list[str]:
        values = [self.password, self.wrong_password]
        return values + [quote(v, safe="") for v in values if quote(v, safe="") != v]

    def register(self) -> None:
        Camera.objects.filter(name__startswith=f"{self.prefix}-").delete()
        for item in self.plan:
            camera_upsert(
                name=item.name,
                url=item.url,
                username=item.username,
                password=item.password,
                interval_s=self.interval_s,
                timeout_s=item.timeout_s or self.timeout_s,
                formats="qr",
                mode=item.mode,
                # A stream camera is enabled from the start: its session is open before the window.
                enabled=item.mode == "stream",
            )

    def enable(self, t0: float) -> None:
        # Spread over one interval so fifteen cameras do not all fire on the same tick.
        for i, item in enumerate(self.plan):
            Camera.objects.filter(name=item.name).update(
                enabled=True, next_run_at=t0 + self.interval_s * i / len(self.plan), lease_until=None
            )

    def close(self, *, keep: bool = False) -> None:
        if not keep:
            Camera.objects.filter(name__startswith=f"{self.prefix}-").delete()
        self.sim.stop()
        self.silent.close()
        if self.rtsp is not None:
            self.rtsp.stop()


def purge_broker(url: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter("camtrack:frame:*"))
    client.delete("io", "cpu", "unacked", "unacked_index", *keys)


def start_processes(env: dict[str, str], io_threads: int, web_port: int, data_dir: Path) -> dict[str, procs.Proc]:
    lines = procs.procfile_lines()
    common = {**env, "CAMTRACK_IO_CONCURRENCY": str(io_threads), "CAMTRACK_NODE": f"faultcheck{os.getpid()}"}
    started = {
        "io": procs.start("io", lines["io"], common),
        "cpu": procs.start("cpu", lines["cpu"], common),
        "streams": procs.start("streams", lines["streams"], common),
        "web": procs.start(
            "web", lines["web"], {**common, "CAMTRACK_WEB_BIND": f"127.0.0.1:{web_port}", "CAMTRACK_WEB_WORKERS": "1"}
        ),
    }
    for kind in ("io", "cpu", "streams"):
        procs.wait_for_text(started[kind], "ready.")
    _wait_http(f"http://127.0.0.1:{web_port}/healthz", started["web"])
    # Beat last: nothing is dispatched before the workers are there to take it.
    started["beat"] = procs.start("beat", lines["beat"], {**common, "CAMTRACK_DATA_DIR": str(data_dir)})
    procs.wait_for_text(started["beat"], "beat: Starting")
    return started


def _wait_http(url: str, proc: procs.Proc, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=2)
            return
        if proc.popen.poll() is not None:
            raise RuntimeError(f"web exited:\n{proc.output()[-2000:]}")
        time.sleep(0.2)
    raise TimeoutError("web did not answer")


def run_capture_command(name: str, env: dict[str, str]) -> dict:
    """``manage.py capture NAME --json`` in a fresh process.

    Judged on the time the command itself reports (capture to result); the process time, which adds
    interpreter start-up and imports (1-3 s on a busy two-core host), is reported beside it.
    """
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "manage.py", "capture", name, "--json"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        out = {}
    inside = out.get("elapsed_ms")
    return {
        "elapsed_s": round(inside / 1000, 2) if inside is not None else None,
        "process_s": round(elapsed, 2),
        "ok": out.get("ok"),
        "error": out.get("error"),
        "returncode": proc.returncode,
        "output": proc.stdout + proc.stderr,
    }


def fetch_web_pages(base: str, username: str, password: str, names: list[str]) -> dict[str, str]:
    """Every page an operator may look at, fetched over HTTP from the web process after logging in."""
    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=10)
    resp = session.post(
        f"{base}/admin/login/?next=/admin/",
        timeout=10,
        data={
            "username": username,
            "password": password,
            "next": "/admin/",
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        },
    )
    if "sessionid" not in session.cookies:
        raise RuntimeError(f"admin login failed: HTTP {resp.status_code}")
    pages = {}
    paths = [
        "/",
        "/?partial=1",
        "/api/cameras/",
        "/admin/cameras/camera/",
        "/admin/cameras/cameraevent/",
        "/admin/cameras/snapshot/",
        "/api/detections/",
    ]
    for name in names:
        paths += [f"/api/cameras/{name}/", f"/api/cameras/{name}/events/"]
    for camera_id in Camera.objects.filter(name__in=names).values_list("pk", flat=True):
        paths.append(f"/admin/cameras/camera/{camera_id}/change/")
    for path in paths:
        resp = session.get(base + path, timeout=10)
        pages[path] = f"HTTP {resp.status_code}\n{resp.text}"
    return pages


def stored_texts(names: list[str]) -> dict[str, str]:
    """The errors the database holds for these cameras, where a leaked credential would sit."""
    cameras = Camera.objects.filter(name__in=names)
    return {
        "Camera.last_error": "\n".join(cameras.values_list("last_error", flat=True)),
        "Snapshot.error": "\n".join(
            f"{e} {d}" for e, d in Snapshot.objects.filter(camera__in=cameras).values_list("error", "error_detail")
        ),
        "CameraEvent.reason": "\n".join(
            CameraEvent.objects.filter(camera__in=cameras).values_list("reason", flat=True)
        ),
    }


def find_leaks(texts: dict[str, str], secret_values: list[str]) -> list[str]:
    return [where for where, text in texts.items() if any(s in text for s in secret_values)]


def camera_results(scenario: Scenario, t0: float, t1: float) -> list[CameraResult]:
    import datetime as dt

    start, end = (dt.datetime.fromtimestamp(t, tz=dt.UTC) for t in (t0, t1))
    nominal = (t1 - t0) / scenario.interval_s
    results = []
    for item in scenario.plan:
        camera = Camera.objects.get(name=item.name)
        window = Snapshot.objects.filter(camera=camera, scheduled_at__gte=start, scheduled_at__lt=end)
        errors = Counter(window.filter(status="failed").values_list("error", flat=True))
        ok = window.filter(status="ok").count()
        failed = sum(errors.values())
        detections = Detection.objects.filter(camera=camera).count()
        error = camera.last_error.split(":", 1)[0]
        rate = ok / nominal if nominal else 0.0
        if item.expect is None:
            passed = rate >= MIN_RATE and camera.status == Camera.Status.ONLINE
        else:
            dominant = errors.most_common(1)[0][0] if errors else ""
            passed = (
                camera.status in (Camera.Status.DEGRADED, Camera.Status.OFFLINE)
                and error in item.expect
                and dominant in item.expect
                and ok == 0
                and detections == 0
            )
        kind = "healthy" if item.expect is None else item.name.removeprefix(f"{scenario.prefix}-fault-")
        results.append(
            CameraResult(
                item.name, kind, camera.status, error, ok, failed, dict(errors), round(rate, 3), detections, passed
            )
        )
    return results


def run(
    *,
    duration_s: float = 45.0,
    io_threads: int = 4,
    interval_s: float = 1.0,
    timeout_s: float = 2.0,
    prefix: str = "faultcheck",
    env: dict[str, str] | None = None,
    keep: bool = False,
    write: Callable[[str], object] = print,
) -> Report:
    """Run the scenario; ``env`` overrides the environment of the processes it starts."""
    env = {"DATABASE_URL": os.environ.get("DATABASE_URL", ""), **(env or {})}
    env = {k: v for k, v in env.items() if v}
    broker = env.get("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    report = Report(duration_s=duration_s, io_threads=io_threads, interval_s=interval_s, timeout_s=timeout_s)
    scenario = Scenario(prefix=prefix, interval_s=interval_s, timeout_s=timeout_s)
    admin_name, admin_password = f"{prefix}-admin", secrets.token_urlsafe(16)
    started: dict[str, procs.Proc] = {}
    try:
        scenario.register()
        User.objects.filter(username=admin_name).delete()
        User.objects.create_superuser(admin_name, password=admin_password)
        purge_broker(broker)
        web_port = free_port()
        write(f"starting io ({io_threads} threads), cpu, streams, web and beat ...")
        started = start_processes(env, io_threads, web_port, scenario.tmp)
        t0 = time.time() + 0.5
        scenario.enable(t0)
        write(
            f"{len(scenario.plan)} cameras running for {duration_s:.0f} s (interval {interval_s} s, "
            f"timeout {timeout_s} s)"
        )
        time.sleep(max(t0 + duration_s - time.time(), 0))
        t1 = time.time()
        Camera.objects.filter(name__startswith=f"{prefix}-").update(enabled=False)
        # Let captures in flight finish: their slots are inside the window.
        time.sleep(timeout_s + 2.0)
        report.cameras = camera_results(scenario, t0, t1)
        hang = f"{prefix}-fault-hang"
        report.command = run_capture_command(hang, env)
        names = [item.name for item in scenario.plan]
        texts = fetch_web_pages(f"http://127.0.0.1:{web_port}", admin_name, admin_password, names)
        texts["capture command output"] = report.command.pop("output")
        texts.update(stored_texts(names))
        for kind, proc in started.items():
            texts[f"{kind} log"] = proc.output()
        report.checked_bytes = sum(len(t) for t in texts.values())
        report.leaks = find_leaks(texts, scenario.secrets)
    finally:
        for proc in started.values():
            procs.stop(proc)
        User.objects.filter(username=admin_name).delete()
        scenario.close(keep=keep)
        with contextlib.suppress(Exception):
            purge_broker(broker)
    report.failures = evaluate(report)
    return report


def evaluate(report: Report) -> list[str]:
    failures = [
        f"{c.name}: {c.status} {c.error or '-'} rate {c.rate:.2f} detections {c.detections}"
        for c in report.cameras
        if not c.passed
    ]
    cmd = report.command
    limit = report.timeout_s + COMMAND_SLACK_S
    if cmd.get("ok") is not False or not cmd.get("error") or (cmd.get("elapsed_s") or 1e9) > limit:
        failures.append(f"capture command on the hanging camera: {cmd} (limit {limit} s)")
    failures += [f"password found in {where}" for where in report.leaks]
    return failures


def format_report(report: Report) -> str:
    lines = [
        f"{'camera':<30} {'kind':<13} {'status':<9} {'error':<13} {'ok':>4} {'failed':>6} "
        f"{'rate':>5} {'det':>4}  errors"
    ]
    for c in report.cameras:
        errors = " ".join(f"{k}={v}" for k, v in sorted(c.errors.items()))
        lines.append(
            f"{c.name:<30} {c.kind:<13} {c.status:<9} {c.error or '-':<13} {c.ok:>4} {c.failed:>6} "
            f"{c.rate:>5.2f} {c.detections:>4}  {errors}{'' if c.passed else '  <- FAIL'}"
        )
    healthy = [c.rate for c in report.cameras if c.kind == "healthy"]
    if healthy:
        lines.append(
            f"healthy cameras: rate min {min(healthy):.2f} mean {sum(healthy) / len(healthy):.2f} "
            f"of nominal ({report.duration_s / report.interval_s:.0f} captures each)"
        )
    cmd = report.command
    lines.append(
        f"manage.py capture on the hanging camera: ok={cmd.get('ok')} error={cmd.get('error')!r} "
        f"in {cmd.get('elapsed_s')} s (limit {report.timeout_s + COMMAND_SLACK_S} s; "
        f"{cmd.get('process_s')} s with process start-up)"
    )
    lines.append(
        f"password search: {report.checked_bytes} bytes of pages, logs, output and stored errors; "
        f"found in: {', '.join(report.leaks) or 'nowhere'}"
    )
    lines.append("PASS" if report.passed else "FAIL:\n  " + "\n  ".join(report.failures))
    return "\n".join(lines)


__all__ = ["FAULTS", "Report", "format_report", "run"]
