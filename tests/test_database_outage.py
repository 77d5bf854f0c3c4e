"""PostgreSQL stopped under load (a throwaway cluster of this test's own): the pipeline is storing again
within 30 s of its return, and the slots that fell due meanwhile are counted, as skipped ``outage``."""

import csv
import io
import os
import subprocess
import sys
import tempfile
import time

import pytest

from devtools import pgserver as postgres_server
from devtools.outagecheck import lost_recorded, wait_settled
from devtools.pgserver import PostgresServer
from devtools.redisserver import RedisServer
from devtools.simulator import Simulator
from tests.workers import ROOT, Supervised

CAMERAS = 10
INTERVAL_S = 1.0
NOMINAL = CAMERAS / INTERVAL_S
OUTAGE_S = 15.0
RECOVERY_CEILING_S = 30.0
# A claimed slot with no outcome is called lost 19.5 s after it was due (lag 2 + timeout 2 + stragglers
# 0.5 + frames kept 10 s + 5 s of grace), not the two minutes of the defaults.
SHORT_DEADLINE = {"CAMTRACK_FRAME_TTL_S": "10", "CAMTRACK_SLOT_GRACE_S": "5"}
DEADLINE_S = 19.5 + 1.0 + 1.0  # and a dispatch round's lookahead, and a margin

pytestmark = pytest.mark.skipif(not postgres_server.available(), reason="PostgreSQL's initdb is not installed")


class Site:
    """Counts read straight from the throwaway database (the test's own Django database is another one)."""

    def __init__(self, pg: PostgresServer) -> None:
        self.pg = pg

    def one(self, sql: str, params: tuple = ()) -> tuple:
        conn = self.pg.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchone()
        finally:
            conn.close()

    def all(self, sql: str) -> list[tuple]:
        conn = self.pg.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def stored(self) -> int:
        return self.one("SELECT count(*) FROM cameras_snapshot WHERE status = 'ok'")[0]

    def rate(self, window_s: float = 2.0) -> float:
        before = self.stored()
        time.sleep(window_s)
        return (self.stored() - before) / window_s

    def wait_nominal(self, timeout_s: float) -> float | None:
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            try:
                if self.rate() >= 0.9 * NOMINAL:
                    return time.monotonic() - start
            except Exception:  # the database not answering yet
                time.sleep(0.5)
        return None


def _manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    full = {**os.environ, **env}
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def site():
    pg = PostgresServer().init()
    broker = RedisServer().start()
    yield pg, broker
    broker.close()
    pg.close()


def test_slots_due_while_the_database_is_down_are_counted_and_the_pipeline_recovers(site):
    pg, broker = site
    sim = Simulator(port=0, cameras=CAMERAS).start()
    env = {
        "DATABASE_URL": pg.url(),
        "CELERY_BROKER_URL": broker.url(0),
        "CAMTRACK_FRAME_STORE_URL": broker.url(0),
        "CAMTRACK_DATA_DIR": tempfile.mkdtemp(prefix="camtrack-dbout-"),
        "CAMTRACK_CPU_CONCURRENCY": "2",
        "CAMTRACK_IO_CONCURRENCY": "8",
        **SHORT_DEADLINE,
    }
    _manage(env, "migrate", "--noinput", "-v", "0")
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["name", "url", "interval_s", "timeout_s"])
    for i in range(CAMERAS):
        writer.writerow([f"db-{i + 1:02d}", sim.url(f"sim-{i + 1:02d}"), INTERVAL_S, 2.0])
    _manage(env, "import_cameras", "/dev/stdin", stdin=rows.getvalue())
    db = Site(pg)
    first_slots = dict(db.all("SELECT id, next_run_at FROM cameras_camera"))
    assert len(first_slots) == CAMERAS
    procs = {name: Supervised(name, env) for name in ("io", "cpu", "beat")}
    try:
        assert db.wait_nominal(60) is not None, _logs(procs)
        pg.stop()
        time.sleep(OUTAGE_S)
        pg.start()
        pg.wait_ready()
        back_after = db.wait_nominal(RECOVERY_CEILING_S)
        assert back_after is not None, f"not back to 90% of {NOMINAL}/s in {RECOVERY_CEILING_S} s\n{_logs(procs)}"
        for p in procs.values():
            assert p.child_alive(), f"{p.name} is not running\n{_logs(procs)}"
    finally:
        procs["beat"].stop()
        # A capture that expired in the queue while the database was down could not be counted then:
        # past its deadline it is recorded as lost, as the next dispatch round would.
        print(lost_recorded(env, DEADLINE_S))
        # Captures in flight and decodes retried through the outage finish and are stored or counted.
        wait_settled(
            lambda: db.one("SELECT COALESCE(SUM(slots), 0) FROM cameras_slothour")[0], quiet_s=15, timeout_s=60
        )
        for name in ("io", "cpu"):
            procs[name].stop()
        sim.stop()
    per_camera = db.all(
        "SELECT c.id, c.name, c.next_run_at, c.interval_s, COALESCE(SUM(h.slots), 0), "
        "(SELECT count(*) FROM cameras_snapshot s WHERE s.camera_id = c.id) "
        "FROM cameras_camera c LEFT JOIN cameras_slothour h ON h.camera_id = c.id GROUP BY c.id"
    )
    due_total = accounted_total = 0
    for camera_id, name, next_run_at, interval_s, accounted, snapshots in per_camera:
        due = round((next_run_at - first_slots[camera_id]) / interval_s)
        due_total += due
        accounted_total += accounted
        assert snapshots <= accounted, f"{name}: {snapshots} snapshots, {accounted} counted"
        assert accounted == due, f"{name}: {accounted} counted of {due} due"
    outage = db.one("SELECT COALESCE(SUM(slots), 0) FROM cameras_slothour WHERE reason = 'outage'")[0]
    # Most of the outage's slots are counted as such (the rest failed or were stored around its edges).
    assert outage >= 0.7 * OUTAGE_S * NOMINAL, outage
    outcomes = db.all("SELECT outcome, reason, SUM(slots) FROM cameras_slothour GROUP BY 1, 2 ORDER BY 1, 2")
    print(f"back {back_after:.1f} s after the database; due {due_total}, accounted {accounted_total}: {outcomes}")


def _logs(procs: dict[str, Supervised]) -> str:
    return "\n".join(f"===== {n}\n{p.output()[-3000:]}" for n, p in procs.items())
