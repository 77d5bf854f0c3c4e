"""The load benchmark: simulator + web + beat + io + cpu on this host, measured from the database.

Everything is started from the Procfile's lines against the configured database and broker.
"""

import datetime as dt
import json
import multiprocessing
import random
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
import redis
import requests
from django.conf import settings
from django.db.models import Sum

from cameras.models import Camera, Snapshot
from detections.models import Detection
from devtools.bench import procs
from devtools.bench.ceiling import decode_ceiling
from devtools.simulator import Simulator
from pipeline import framestore
from pipeline.dispatch import SHED_KEY
from tracking.models import CameraMinute

PREFIX = "bench"
# What the simulated cameras show (every frame has its own sensor noise in every scene):
#   busy       a different code at a different place in every frame: nothing can be skipped, the
#              upper bound of a snapshot's cost;
#   warehouse  static scenes, parcels passing: about one frame in ten shows a code, each parcel in view
#              for three frames, moving; the rest is an empty dock.
SCENES = ("busy", "warehouse")
WAREHOUSE_EMPTY = 0.9
WAREHOUSE_FRAMES_PER_VISIT = 3
POOL = 256
# The baseline design camtrack replaces, measured on the same kind of host (see README).
BASELINE = {"design": "thread pool + pyzbar + connection per write", "snapshots_per_s": 26.5, "p95_s": 36.0}


@dataclass
class Step:
    load: float
    cameras: int
    offered_per_s: float
    seconds: float = 0.0
    snapshots: int = 0
    snapshots_per_s: float = 0.0
    detections_per_s: float = 0.0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_p99_s: float | None = None
    skipped: int = 0
    errors: dict = field(default_factory=dict)
    wrong: int = 0
    queue_max: dict = field(default_factory=dict)
    cpu_cores: dict = field(default_factory=dict)
    cpu_ms_per_snapshot: dict = field(default_factory=dict)
    gated: int = 0
    visits: dict = field(default_factory=dict)
    peak_rss_mb: dict = field(default_factory=dict)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


# --- the run ---------------------------------------------------------------------------------------
class LoadBench:
    def __init__(
        self,
        *,
        cameras: int,
        interval: float,
        duration: float,
        steps: list[float],
        step_duration: float,
        nodes: int,
        sim_port: int,
        warmup: float,
        scene: str = "busy",
        write=print,
    ) -> None:
        if scene not in SCENES:
            raise ValueError(f"scene must be one of {', '.join(SCENES)}")
        self.scene = scene
        self.cameras, self.interval, self.duration = cameras, interval, duration
        self.steps, self.step_duration, self.nodes = steps, step_duration, nodes
        self.sim_port, self.warmup, self.write = sim_port, warmup, write
        self.total = int(round(cameras * max(steps)))
        self.names = [f"{PREFIX}-{i:02d}" for i in range(1, self.total + 1)]
        self.started: list[procs.Proc] = []
        self.redis = (
            redis.Redis.from_url(settings.CELERY_BROKER_URL) if settings.CELERY_BROKER_URL.startswith("redis") else None
        )

    # setup
    def _register(self, base: str) -> None:
        Camera.objects.filter(name__startswith=f"{PREFIX}-").delete()
        # Each run's load controller starts afresh, not from the share the last run ended with.
        framestore.client().delete(SHED_KEY)
        Camera.objects.bulk_create(
            [
                Camera(name=n, url=f"{base}/cam/{n}.jpg", interval_s=self.interval, timeout_s=5.0, enabled=False)
                for n in self.names
            ],
            batch_size=2000,
        )

    def _enable(self, count: int) -> None:
        now = time.time()
        ids = list(
            Camera.objects.filter(name__startswith=f"{PREFIX}-", enabled=False)
            .order_by("name")
            .values_list("id", flat=True)[: max(0, count - self._enabled())]
        )
        cams = [Camera(id=i, enabled=True, next_run_at=now + random.uniform(0, self.interval)) for i in ids]
        Camera.objects.bulk_update(cams, ["enabled", "next_run_at"], batch_size=2000)
        self.active = list(
            Camera.objects.filter(name__startswith=f"{PREFIX}-", enabled=True).values_list("name", flat=True)
        )

    def _enabled(self) -> int:
        return Camera.objects.filter(name__startswith=f"{PREFIX}-", enabled=True).count()

    def _start_system(self, data_dir: str) -> None:
        lines = procfile_lines = procs.procfile_lines()
        env = {
            "CAMTRACK_DATA_DIR": data_dir,
            "CELERY_WORKER_SEND_TASK_EVENTS": "false",
            "CAMTRACK_WEB_BIND": "127.0.0.1:0",
        }
        self.started.append(procs.start("web", lines["web"], env))
        self.started.append(procs.start("beat", procfile_lines["beat"], env))
        for node in range(1, self.nodes + 1):
            node_env = {**env, "CAMTRACK_NODE": str(node)}
            self.started.append(procs.start("io", lines["io"], node_env))
            self.started.append(procs.start("cpu", lines["cpu"], node_env))
        for p in self.started:
            if p.kind in ("io", "cpu"):
                procs.wait_for_text(p, "ready.")

    def _queue_lengths(self) -> dict[str, int]:
        if self.redis is None:
            return {}
        return {q: self.redis.llen(q) for q in ("io", "cpu")}

    # measure
    def _measure(self, load: float) -> Step:
        count = int(round(self.cameras * load))
        step = Step(load=load, cameras=count, offered_per_s=round(count / self.interval, 1))
        self._enable(count)
        seconds = self.duration if load == 1.0 else self.step_duration
        self.write(
            f"  step x{load}: {count} cameras, {step.offered_per_s}/s offered; warm-up {self.warmup:.0f} s, "
            f"measuring {seconds:.0f} s"
        )
        time.sleep(self.warmup)
        services = procs.ServiceCpu()
        tracked = [*self.started, self.started_sim]
        cpu0 = {id(p): p.cpu_seconds() for p in tracked}
        host0 = psutil.cpu_times()
        skipped0 = Camera.objects.filter(name__startswith=f"{PREFIX}-").aggregate(s=Sum("captures_skipped"))["s"] or 0
        gated0 = self._gated()
        t0 = dt.datetime.now(dt.UTC)
        end = time.monotonic() + seconds
        qmax = {"io": 0, "cpu": 0}
        while time.monotonic() < end:
            for p in self.started:
                p.rss()
            for q, n in self._queue_lengths().items():
                qmax[q] = max(qmax[q], n)
            time.sleep(1.0)
        t1 = dt.datetime.now(dt.UTC)
        window = (t1 - t0).total_seconds()
        cores: dict[str, float] = {}
        for p in tracked:
            cores[p.kind] = cores.get(p.kind, 0.0) + (p.cpu_seconds() - cpu0[id(p)]) / window
        host1 = psutil.cpu_times()
        cores["host_busy"] = (sum(host1) - host1.idle - sum(host0) + host0.idle) / window
        for kind, used in services.used().items():
            cores[kind] = used / window
        step.cpu_cores = {k: round(v, 2) for k, v in cores.items()}
        rss: dict[str, float] = {}
        for p in self.started:
            rss[p.kind] = rss.get(p.kind, 0) + p.peak_rss / 2**20
        step.peak_rss_mb = {k: round(v) for k, v in rss.items()}
        step.peak_rss_mb["total"] = round(sum(rss.values()))
        step.queue_max = qmax
        step.seconds = round(window, 1)

        snaps = Snapshot.objects.filter(camera__name__startswith=f"{PREFIX}-", finished_at__gte=t0, finished_at__lt=t1)
        ok = list(snaps.filter(status="ok").values_list("scheduled_at", "finished_at"))
        step.snapshots = len(ok)
        step.snapshots_per_s = round(len(ok) / window, 1)
        latencies = [(f - s).total_seconds() for s, f in ok]
        step.latency_p50_s, step.latency_p95_s, step.latency_p99_s = (_pct(latencies, q) for q in (0.5, 0.95, 0.99))
        for err in snaps.exclude(status="ok").values_list("error", flat=True):
            step.errors[err] = step.errors.get(err, 0) + 1
        dets = Detection.objects.filter(camera__name__startswith=f"{PREFIX}-", created_at__gte=t0, created_at__lt=t1)
        rows = list(dets.values_list("camera__name", "text", "captured_at"))
        step.detections_per_s = round(len(rows) / window, 1)
        step.wrong = sum(1 for name, text, at in rows if not self._plausible(name, text, at))
        skipped1 = Camera.objects.filter(name__startswith=f"{PREFIX}-").aggregate(s=Sum("captures_skipped"))["s"] or 0
        step.skipped = skipped1 - skipped0
        if step.snapshots_per_s:
            step.cpu_ms_per_snapshot = {
                k: round(1000 * v / step.snapshots_per_s, 2) for k, v in cores.items() if k != "host_busy"
            }
            step.cpu_ms_per_snapshot["host"] = round(1000 * cores["host_busy"] / step.snapshots_per_s, 2)
        step.gated = self._gated() - gated0
        if self.scene == "warehouse":
            step.visits = self._visits(t0, t1, rows)
        return step

    def _gated(self) -> int:
        minutes = CameraMinute.objects.filter(camera__name__startswith=f"{PREFIX}-")
        return minutes.aggregate(g=Sum("gated"))["g"] or 0

    def _plausible(self, name: str, text: str, at: dt.datetime) -> bool:
        if self.scene == "busy":  # a code from the pool: any camera may show any of them
            return re.fullmatch(r"PARCEL-pool-\d+", text) is not None
        # The camera's own payload at the moment of capture (the simulator's clock is this host's).
        t = at.timestamp()
        return text in {self.truth.payload(name, t + d) for d in (-0.5, 0.0, 0.5)}

    def _visits(self, t0: dt.datetime, t1: dt.datetime, rows: list) -> dict:
        """Parcel visits wholly inside the window (the simulator's truth) against what was found."""
        period = self.truth.payload_period_s
        start, end = t0.timestamp(), t1.timestamp()
        found = {(name, text) for name, text, _ in rows}
        expected = set()
        for name in self.active:
            phase = self.truth._phase(name)
            first = int((start + phase) // period) + 1
            # Visits ending in the last seconds may still be on their way through the pipeline.
            for slot in range(first, int((end - 3.0 + phase) // period)):
                text = self.truth.payload(name, slot * period - phase + period / 2)
                if text:
                    expected.add((name, text))
        missed = expected - found
        return {"expected": len(expected), "found": len(expected & found), "missed": len(missed)}

    def run(self) -> dict:
        data_dir = tempfile.mkdtemp(prefix="camtrack-bench-")
        if self.scene == "busy":
            shows = f"--pool {POOL} --cache-size {2 * POOL}"
        else:
            period = WAREHOUSE_FRAMES_PER_VISIT * self.interval
            shows = (
                f"--empty-ratio {WAREHOUSE_EMPTY} --period {period} --moves {WAREHOUSE_FRAMES_PER_VISIT} "
                f"--cache-size {4 * self.total}"
            )
            # The same payload function as the simulator process, for the truth (not served).
            self.truth = Simulator(
                port=0,
                cameras=self.names,
                empty_ratio=WAREHOUSE_EMPTY,
                payload_period_s=period,
                frames_per_payload=WAREHOUSE_FRAMES_PER_VISIT,
                noise_variants=1,
            )
            self.truth._server.server_close()
        sim = procs.start(
            "simulator",
            f"python -m devtools.simulator --port {self.sim_port} --prefix {PREFIX} --cameras {self.total} {shows}",
            {},
        )
        self.started_sim = sim
        try:
            procs.wait_for_text(sim, "camera simulator on", 30)
            base = f"http://127.0.0.1:{self.sim_port}"
            # Warm the simulator's frame cache: the cameras are not what this host is measuring.
            with ThreadPoolExecutor(8) as pool:
                frames = list(pool.map(lambda n: requests.get(f"{base}/cam/{n}.jpg", timeout=30).content, self.names))
            frames = frames[:48]
            self.write(f"decode-only ceiling on {multiprocessing.cpu_count()} cores ...")
            ceiling = decode_ceiling(frames, workers=multiprocessing.cpu_count())
            self.write(f"  {ceiling}")
            self._register(base)
            self._start_system(data_dir)
            steps = [self._measure(load) for load in sorted(self.steps)]
        finally:
            Camera.objects.filter(name__startswith=f"{PREFIX}-").update(enabled=False)
            for p in self.started:
                procs.stop(p)
            procs.stop(sim)
        return {
            "host": {
                "cores": multiprocessing.cpu_count(),
                "database": settings.DATABASES["default"]["ENGINE"],
                "broker": settings.CELERY_BROKER_URL.split("://")[0],
            },
            "config": {
                "cameras": self.cameras,
                "interval_s": self.interval,
                "duration_s": self.duration,
                "nodes": self.nodes,
                "io_concurrency": settings.CAMTRACK_IO_CONCURRENCY,
                "cpu_concurrency": settings.CAMTRACK_CPU_CONCURRENCY,
            },
            "scene": self.scene,
            "decode_ceiling": ceiling,
            "baseline": BASELINE,
            "steps": [asdict(s) for s in steps],
        }


def write_outputs(result: dict, out_dir: Path) -> tuple[Path, Path | None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "bench.json"
    json_path.write_text(json.dumps(result, indent=2))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return json_path, None
    steps = result["steps"]
    offered = [s["offered_per_s"] for s in steps]
    fig, ax1 = plt.subplots(figsize=(7, 4))
    ax1.plot(offered, [s["snapshots_per_s"] for s in steps], "o-", label="snapshots/s")
    ax1.plot(offered, offered, ":", color="grey", label="offered")
    ax1.set_xlabel("offered load (snapshots/s)")
    ax1.set_ylabel("throughput (snapshots/s)")
    ax2 = ax1.twinx()
    ax2.plot(offered, [s["latency_p95_s"] or 0 for s in steps], "s--", color="tab:red", label="p95 latency")
    ax2.set_ylabel("end-to-end p95 (s)")
    fig.legend(loc="upper left")
    ax1.set_title(f"camtrack on {result['host']['cores']} cores, {result['config']['cameras']} cameras base")
    fig.tight_layout()
    png = out_dir / "bench.png"
    fig.savefig(png, dpi=100)
    return json_path, png


def format_table(result: dict) -> str:
    rows = [
        "offered/s  cameras  snaps/s  dets/s  p50 s  p95 s  p99 s  skipped  errors  wrong  qmax io/cpu  cores",
        "-" * 104,
    ]
    for s in result["steps"]:
        cores = " ".join(f"{k}={v}" for k, v in sorted(s["cpu_cores"].items()))
        rows.append(
            f"{s['offered_per_s']:>9}  {s['cameras']:>7}  {s['snapshots_per_s']:>7}  {s['detections_per_s']:>6}  "
            f"{s['latency_p50_s']!s:>5}  {s['latency_p95_s']!s:>5}  {s['latency_p99_s']!s:>5}  {s['skipped']:>7}  "
            f"{sum(s['errors'].values()):>6}  {s['wrong']:>5}  {s['queue_max'].get('io', '-')!s:>5}/"
            f"{s['queue_max'].get('cpu', '-')!s:<5}  {cores}"
        )
    main = next((s for s in result["steps"] if s["load"] == 1.0), result["steps"][-1])
    rows.append("")
    rows.append(f"scene: {result.get('scene', 'busy')}; frames not decoded again (gated): {main.get('gated', 0)}")
    if main.get("visits"):
        v = main["visits"]
        rows.append(f"parcel visits in the window: {v['found']} found of {v['expected']} shown, {v['missed']} missed")
    ceiling = result["decode_ceiling"].get("pipeline_decode_frames_per_s")
    if main.get("cpu_ms_per_snapshot") and ceiling:
        per = " ".join(f"{k}={v}" for k, v in sorted(main["cpu_ms_per_snapshot"].items()))
        decode_ms = round(1000 * result["host"]["cores"] / ceiling, 2)
        rows.append(f"CPU ms per stored snapshot: {per}; decoding alone: {decode_ms} ms per frame")
    rows.append(f"peak resident memory (MB): {main['peak_rss_mb']}")
    rows.append(f"decode-only ceiling: {result['decode_ceiling']}")
    b = result["baseline"]
    rows.append(f"baseline design ({b['design']}): {b['snapshots_per_s']} snapshots/s, p95 {b['p95_s']} s")
    return "\n".join(rows)
