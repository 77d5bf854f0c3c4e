"""The outage acceptance, over one run: simulated HTTP cameras through the Procfile's processes (each
under devtools.supervise, as `make demo` and systemd run them) on a PostgreSQL cluster and a Redis of
this run's own, then, one after the other: PostgreSQL stopped, Redis restarted, the io worker and the
cpu worker's processes SIGKILLed, beat SIGKILLed; then beat stopped, and the claimed slots that never
ended (their tasks died with a worker) recorded as lost once their deadline passed.

It reports, per fault, how long snapshots/s took to be back at 90 % of nominal after the service's
return; over the whole run, every camera's due slots against stored + failed + skipped; snapshots
stored twice; and /metrics' slot totals against the database's.
"""

import contextlib
import csv
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from django.conf import settings

from cameras.ledger import deadline_s
from devtools.bench import procs
from devtools.net import free_port
from devtools.pgserver import PostgresServer
from devtools.redisserver import RedisServer

ROOT = Path(__file__).resolve().parent.parent
RECOVERY_CEILING_S = 30.0


@dataclass
class Report:
    cameras: int
    nominal_per_s: float
    faults: list[dict] = field(default_factory=list)
    due: int = 0
    accounted: int = 0
    unaccounted_cameras: list[str] = field(default_factory=list)
    stored_twice: int = 0
    outcomes: list[tuple] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    dead: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        recovered = all(f["back_s"] is not None and f["back_s"] <= RECOVERY_CEILING_S for f in self.faults)
        db, scraped = self.metrics.get("database", 0), self.metrics.get("metrics", 0)
        metrics_ok = db > 0 and abs(db - scraped) <= 0.01 * db
        return recovered and not self.unaccounted_cameras and not self.stored_twice and metrics_ok and not self.dead


class Supervised:
    def __init__(self, name: str, line: str, env: dict[str, str]) -> None:
        self.name = name
        command = f"{sys.executable} -m devtools.supervise --name {name} -- {line}"
        self.proc = procs.start(name, command, env)

    def child(self) -> psutil.Process | None:
        started = re.findall(rf"supervise\[{self.name}\]: started pid (\d+)", self.proc.output())
        try:
            return psutil.Process(int(started[-1])) if started else None
        except psutil.NoSuchProcess:
            return None

    def alive(self) -> bool:
        child = self.child()
        return self.proc.popen.poll() is None and child is not None and child.is_running()

    def kill(self, *, with_children: bool) -> None:
        child = self.child()
        if child is None:
            return
        victims = [*child.children(recursive=True), child] if with_children else [child]
        for p in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGKILL)

    def stop(self) -> None:
        procs.stop(self.proc, timeout=40)


class Site:
    def __init__(self, pg: PostgresServer) -> None:
        self.pg = pg

    def rows(self, sql: str) -> list[tuple]:
        conn = self.pg.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def stored(self) -> int:
        return self.rows("SELECT count(*) FROM cameras_snapshot WHERE status = 'ok'")[0][0]

    def wait_rate(self, at_least: float, timeout_s: float) -> float | None:
        """Seconds until snapshots/s over 2 s is at least ``at_least``; None if not within the timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            try:
                before = self.stored()
                time.sleep(2.0)
                if (self.stored() - before) / 2.0 >= at_least:
                    return time.monotonic() - start
            except Exception:  # the database not answering yet
                time.sleep(0.5)
        return None


def wait_settled(count: Callable[[], int], *, quiet_s: float = 3.0, timeout_s: float = 45.0) -> int:
    """Wait until ``count()`` stops changing for ``quiet_s`` (work in flight and its retries are done)."""
    deadline = time.monotonic() + timeout_s
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def lost_recorded(env: dict[str, str], wait_s: float) -> str:
    """After ``wait_s`` (the last claimed slots' deadline), record the slots that never ended as the next
    dispatch round would (beat is stopped); returns what it printed."""
    time.sleep(wait_s)
    return _manage(env, "reconcile_slots").strip()


def _manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=stdin,
        text=True,
        capture_output=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _scraped_slots(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r"^camtrack_slots_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


def run(
    *, cameras: int, interval_s: float, pg_outage_s: float, wait_s: float = 0.0, write: Callable[[str], object] = print
) -> Report:
    """``wait_s``: how long at least to wait after the faults before counting (e.g. the broker's
    visibility timeout, after which the tasks a SIGKILLed worker held come back: they count nothing)."""
    nominal = cameras / interval_s
    report = Report(cameras=cameras, nominal_per_s=nominal)
    pg, broker = PostgresServer().init(), RedisServer().start()
    data_dir = tempfile.mkdtemp(prefix="camtrack-outage-")
    metrics_dir = Path(data_dir) / "metrics"
    metrics_dir.mkdir()
    web_port, sim_port = free_port(), free_port()
    env = {
        "DATABASE_URL": pg.url(),
        "CELERY_BROKER_URL": broker.url(0),
        "CAMTRACK_FRAME_STORE_URL": broker.url(0),
        "CAMTRACK_DATA_DIR": data_dir,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "CAMTRACK_WEB_BIND": f"127.0.0.1:{web_port}",
        "CAMTRACK_WEB_WORKERS": "1",
    }
    sim = procs.start("simulator", f"{sys.executable} -m devtools.simulator --port {sim_port} --cameras {cameras}", {})
    running: dict[str, Supervised] = {}
    try:
        procs.wait_for_text(sim, "camera simulator on", 30)
        _manage(env, "migrate", "--noinput", "-v", "0")
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(["name", "url", "interval_s", "timeout_s"])
        for i in range(cameras):
            writer.writerow(
                [f"out-{i + 1:03d}", f"http://127.0.0.1:{sim_port}/cam/sim-{i + 1:02d}.jpg", interval_s, 2.0]
            )
        _manage(env, "import_cameras", "/dev/stdin", stdin=rows.getvalue())
        site = Site(pg)
        first = dict(site.rows("SELECT id, next_run_at FROM cameras_camera"))
        lines = procs.procfile_lines()
        running = {name: Supervised(name, lines[name], env) for name in ("web", "io", "cpu", "beat")}
        write(f"{cameras} cameras at {interval_s} s ({nominal:.0f} snapshots/s asked); warming up")
        if site.wait_rate(0.9 * nominal, 90) is None:
            raise RuntimeError("never reached 90 % of nominal")

        def fault(name: str, break_it: Callable[[], None], mend: Callable[[], None], wait_s: float) -> None:
            write(f"  {name} ...")
            break_it()
            time.sleep(wait_s)
            mend()
            back = site.wait_rate(0.9 * nominal, 90)
            report.faults.append({"fault": name, "back_s": None if back is None else round(back, 1)})
            write(f"    back to 90 % of nominal {back if back is None else round(back, 1)} s after its return")
            time.sleep(10)

        fault(
            f"PostgreSQL stopped for {pg_outage_s:.0f} s", pg.stop, lambda: (pg.start(), pg.wait_ready()), pg_outage_s
        )
        fault("Redis restarted (down 3 s)", broker.stop, broker.start, 3.0)

        def kill_workers() -> None:
            running["io"].kill(with_children=False)
            running["cpu"].kill(with_children=True)

        fault("io worker and cpu worker processes SIGKILLed", kill_workers, lambda: None, 0.0)
        fault("beat SIGKILLed", lambda: running["beat"].kill(with_children=False), lambda: None, 0.0)
        report.dead = [name for name, p in running.items() if not p.alive()]

        running.pop("beat").stop()
        # Slots claimed by the last rounds may still end by themselves until their deadline; then the
        # ones that never will (their tasks died with the io worker) are recorded as lost, as
        # the next dispatch round would.
        settle_s = max(wait_s, deadline_s(2.0) + settings.CAMTRACK_DISPATCH_LOOKAHEAD_S + 1.0)
        write(f"  waiting {settle_s:.0f} s, the claimed slots' deadline, then recording the lost ones")
        write(f"    {lost_recorded(env, settle_s)}")
        # Work in flight and its retries end as stored, failed or skipped before counting.
        wait_settled(
            lambda: site.rows("SELECT COALESCE(SUM(slots), 0) FROM cameras_slothour")[0][0], quiet_s=15, timeout_s=120
        )
        report.metrics = {
            "database": site.rows("SELECT COALESCE(SUM(slots), 0) FROM cameras_slothour")[0][0],
            "metrics": _scraped_slots(f"http://127.0.0.1:{web_port}"),
        }
        per_camera = site.rows(
            "SELECT c.id, c.name, c.next_run_at, c.interval_s, COALESCE(SUM(h.slots), 0) "
            "FROM cameras_camera c LEFT JOIN cameras_slothour h ON h.camera_id = c.id GROUP BY c.id"
        )
        for camera_id, name, next_run_at, every, accounted in per_camera:
            due = round((next_run_at - first[camera_id]) / every)
            report.due += due
            report.accounted += accounted
            if accounted != due:
                report.unaccounted_cameras.append(f"{name}: {due} due, {accounted} counted")
        report.stored_twice = site.rows(
            "SELECT count(*) FROM (SELECT camera_id, scheduled_at FROM cameras_snapshot "
            "GROUP BY 1, 2 HAVING count(*) > 1) twice"
        )[0][0]
        report.outcomes = site.rows(
            "SELECT outcome, reason, SUM(slots) FROM cameras_slothour GROUP BY 1, 2 ORDER BY 1, 2"
        )
    finally:
        for p in running.values():
            p.stop()
        procs.stop(sim)
        broker.close()
        pg.close()
    return report


def format_report(r: Report) -> str:
    lines = [f"{r.cameras} cameras, {r.nominal_per_s:.0f} snapshots/s asked"]
    for f in r.faults:
        verdict = "ok" if f["back_s"] is not None and f["back_s"] <= RECOVERY_CEILING_S else "SLOW"
        lines.append(f"  {f['fault']:<48} back in {f['back_s']} s (ceiling {RECOVERY_CEILING_S:.0f} s) {verdict}")
    lines.append(f"due slots {r.due}, accounted {r.accounted}: {r.due - r.accounted} unaccounted")
    lines += [f"  {line}" for line in r.unaccounted_cameras[:20]]
    lines.append(f"slots stored twice: {r.stored_twice}")
    lines.append("by outcome: " + ", ".join(f"{o}/{reason or '-'} {n}" for o, reason, n in r.outcomes))
    m = r.metrics
    lines.append(f"/metrics slot total {m.get('metrics')} against the database's {m.get('database')}")
    lines.append(f"processes not running at the end: {r.dead or 'none'}")
    lines.append("PASS" if r.passed else "FAIL")
    return "\n".join(lines)
