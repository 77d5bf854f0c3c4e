"""Response times of the read side (API, console, admin) against a real server on the configured database.

Starts gunicorn itself, as production runs it, and times real HTTP requests from outside: what an
operator's browser or an API client would wait, including serialization and the network stack.
"""

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import requests
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from rest_framework.authtoken.models import Token

from cameras.models import Camera, CameraEvent, Snapshot, Zone
from detections.models import Detection
from devtools.net import free_port
from tracking.models import CameraMinute, Sighting

ROOT = Path(__file__).resolve().parents[3]
BENCH_USER = "bench-reads"
API_CEILING_MS = 500.0  # API and console pages: an operator's page or a client's call
ADMIN_CEILING_MS = 1000.0  # admin lists and searches
ROW_TABLES = (Camera, Zone, Snapshot, Detection, Sighting, CameraMinute, CameraEvent)


@dataclass
class Timing:
    path: str
    kind: str  # api, console or admin: which ceiling applies and how the request authenticates
    median_ms: float
    p95_ms: float
    bytes: int
    status: int
    ceiling_ms: float

    @property
    def verdict(self) -> str:
        if self.status != 200:
            return f"HTTP {self.status}"
        if self.median_ms > self.ceiling_ms:
            return "OVER"
        return "p95 over" if self.p95_ms > self.ceiling_ms else "ok"


def _targets(code: str, zone: str, camera: str) -> list[tuple[str, str, dict[str, str]]]:
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        ("api", "/api/detections/", {}),
        ("api", "/api/sightings/", {}),
        ("api", "/api/journey/", {"code": code}),
        ("api", "/api/counts/", {"bucket": "hour", "zone": zone, "since": since}),
        ("api", "/api/counts/", {"bucket": "minute", "camera": camera}),
        ("api", "/api/cameras/", {"page_size": "1000"}),
        ("console", "/", {}),
        ("console", "/cameras/" + camera + "/", {}),
        ("admin", "/admin/analytics/detection/", {}),
        ("admin", "/admin/cameras/snapshot/", {}),
        ("admin", "/admin/tracking/sighting/", {}),
        ("admin", "/admin/analytics/detection/", {"q": code}),
        ("admin", "/admin/tracking/sighting/", {"q": code}),
    ]


def _sample_subjects() -> tuple[str, str, str]:
    """A parcel with a journey, a zone and a camera that saw it: read through indexes, not scans."""
    recent = list(Sighting.objects.order_by("-id").values_list("text", "camera__name", "zone__name")[:2000])
    if not recent:
        raise CommandError("no sightings to read: seed the database first (manage.py seed_history)")
    counts: dict[str, int] = {}
    for text, _, _ in recent:
        counts[text] = counts.get(text, 0) + 1
    code = max(counts, key=counts.get)
    _, camera, zone = next(r for r in recent if r[0] == code)
    zone = zone or Zone.objects.order_by("name").values_list("name", flat=True).first() or ""
    return code, zone, camera


def _row_counts() -> dict[str, int]:
    rows = {}
    with connection.cursor() as cursor:
        for model in ROW_TABLES:
            table = model._meta.db_table
            cursor.execute(f"SELECT count(*) FROM {table}")
            rows[table] = cursor.fetchone()[0]
    return rows


class Server:
    """gunicorn on a free loopback port with this process's environment (the same DATABASE_URL)."""

    def __init__(self, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-reads-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        gunicorn = Path(sys.executable).parent / "gunicorn"
        command = [str(gunicorn), "camtrack.wsgi", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)]
        # A page slower than gunicorn's default 30 s timeout should be measured, not killed.
        command += ["--timeout", "300"]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=dict(os.environ), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CommandError(f"gunicorn exited:\n{self.output()[-2000:]}")
            try:
                if requests.get(f"{self.url}/admin/login/", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise CommandError(f"gunicorn did not answer within {timeout:g} s:\n{self.output()[-2000:]}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def _login(base: str, username: str, password: str) -> requests.Session:
    """A browser's session: the admin login form, with its CSRF token."""
    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=30).raise_for_status()
    response = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise CommandError(f"admin login failed: HTTP {response.status_code}")
    return session


def _measure(session: requests.Session, url: str, params: dict, warmup: int, n: int) -> tuple[list[float], int, int]:
    for _ in range(warmup):
        session.get(url, params=params, timeout=600)
    times, size, status = [], 0, 200
    for _ in range(n):
        start = time.perf_counter()
        response = session.get(url, params=params, timeout=600)
        body = response.content  # the whole body: a client waits for all of it
        times.append((time.perf_counter() - start) * 1000)
        size = len(body)
        if response.status_code != 200:
            status = response.status_code  # one failed request marks the page
    return times, size, status


def format_table(timings: list[Timing], rows: dict[str, int]) -> str:
    width = max(len(t.path) for t in timings)
    lines = [f"{'path':<{width}}  {'median ms':>9}  {'p95 ms':>8}  {'bytes':>9}  {'ceiling ms':>10}  verdict"]
    for t in timings:
        numbers = f"{t.median_ms:>9.1f}  {t.p95_ms:>8.1f}  {t.bytes:>9}  {t.ceiling_ms:>10.0f}"
        lines.append(f"{t.path:<{width}}  {numbers}  {t.verdict}")
    lines.append("")
    lines.append("rows: " + ", ".join(f"{table} {n:,}" for table, n in rows.items()))
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Time the API, console and admin pages over real HTTP against a gunicorn this command starts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=7, help="timed requests per page")
        parser.add_argument("--warmup", type=int, default=1, help="untimed requests per page first")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
        parser.add_argument("--json", action="store_true", help="print the results as JSON")

    def handle(self, *args: object, **opts: object) -> None:
        code, zone, camera = _sample_subjects()
        password = secrets.token_urlsafe(16)
        user, _ = get_user_model().objects.get_or_create(username=BENCH_USER)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        token, _ = Token.objects.get_or_create(user=user)
        rows = _row_counts()
        # The server gets connections of its own; this process holds none while it is measured.
        connection.close()

        server = Server(workers=int(opts["workers"]))
        timings: list[Timing] = []
        try:
            server.wait_ready()
            browser = _login(server.url, BENCH_USER, password)
            api = requests.Session()
            api.headers["Authorization"] = f"Token {token.key}"
            for kind, path, params in _targets(code, zone, camera):
                session = api if kind == "api" else browser
                times, size, status = _measure(
                    session, server.url + path, params, int(opts["warmup"]), int(opts["requests"])
                )
                shown = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
                timings.append(
                    Timing(
                        path=shown,
                        kind=kind,
                        median_ms=round(float(np.median(times)), 1),
                        p95_ms=round(float(np.percentile(times, 95)), 1),
                        bytes=size,
                        status=status,
                        ceiling_ms=ADMIN_CEILING_MS if kind == "admin" else API_CEILING_MS,
                    )
                )
                if not opts["json"]:
                    self.stderr.write(f"  {shown}: {timings[-1].median_ms:.1f} ms")
        finally:
            server.stop()

        if opts["json"]:
            results = [{**asdict(t), "verdict": t.verdict} for t in timings]
            out = {"database": connection.vendor, "code": code, "zone": zone, "camera": camera, "rows": rows}
            self.stdout.write(json.dumps({**out, "results": results}, indent=2))
        else:
            self.stdout.write(format_table(timings, rows))
