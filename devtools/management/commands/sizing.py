import json
import math
import os
import time
from pathlib import Path

from django.core.management.base import BaseCommand

# Used when no benchmark result is at hand: CPU milliseconds per snapshot measured by `manage.py bench`
# (1000 cameras, 720p frames, 2-core host; README "Sizing workers").
DEFAULT_COSTS_MS = {"cpu": 5.0, "io": 2.1, "postgres": 0.4, "redis": 0.2, "beat": 0.05}


def costs_from_bench(path: Path) -> dict[str, float] | None:
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    step = next((s for s in result["steps"] if s["load"] == 1.0), result["steps"][-1])
    rate = step["snapshots_per_s"]
    if not rate:
        return None
    return {k: v / rate * 1000 for k, v in step["cpu_cores"].items() if k in DEFAULT_COSTS_MS}


def decode_ms_here(samples: int = 60) -> float:
    """Median decode time of a simulated 720p frame on this host, one core."""
    from detections.decoders import decode_bytes
    from devtools.simulator import Simulator

    sim = Simulator(cameras=6)
    frames = [sim.snapshot(name)[0] for name in sim.names]
    times = []
    for i in range(samples):
        start = time.perf_counter()
        decode_bytes(frames[i % len(frames)], formats=["qr"])
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


class Command(BaseCommand):
    help = "Recommends a worker layout per host for N cameras at an interval, from measured per-snapshot costs."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cameras", type=int, required=True)
        parser.add_argument("--interval", type=float, required=True)
        parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores per host")
        parser.add_argument("--bench", default="bench-out/main/bench.json", help="a `manage.py bench` result")
        parser.add_argument("--capture-ms", type=float, default=50.0, help="typical wall time of one capture")
        parser.add_argument("--utilisation", type=float, default=0.7, help="target share of each host's CPU")

    def handle(self, *args, **opts) -> None:
        costs = costs_from_bench(Path(opts["bench"]))
        source = f"measured by {opts['bench']}"
        if costs is None:
            costs = dict(DEFAULT_COSTS_MS)
            costs["cpu"] = DEFAULT_COSTS_MS["cpu"] - 3.4 + decode_ms_here()
            source = "defaults, with decode time measured on this host now"
        rate = opts["cameras"] / opts["interval"]
        per_snapshot = sum(costs.values())
        cores_needed = rate * per_snapshot / 1000
        budget = opts["cores"] * opts["utilisation"]
        hosts = max(1, math.ceil(cores_needed / budget))
        per_host = rate / hosts
        cpu_slots = opts["cores"]  # CPU-bound: one decode slot per core
        # IO-bound: enough threads to keep per-host captures in flight (Little's law), at least 2N+1.
        io_threads = max(2 * opts["cores"] + 1, math.ceil(per_host * opts["capture_ms"] / 1000 * 2))
        self.stdout.write(
            f"offered load: {rate:.1f} snapshots/s; cost per snapshot {per_snapshot:.1f} ms CPU ({source})"
        )
        for k, v in sorted(costs.items()):
            self.stdout.write(f"  {k:9} {v:5.2f} ms")
        self.stdout.write(
            f"CPU needed: {cores_needed:.2f} cores; at {opts['utilisation']:.0%} of {opts['cores']} cores "
            f"per host: {hosts} host(s), {per_host:.1f} snapshots/s each"
        )
        self.stdout.write("per host:")
        self.stdout.write(f"  io:  CAMTRACK_IO_CONCURRENCY={io_threads}  (threads; captures wait on the network)")
        self.stdout.write(f"  cpu: CAMTRACK_CPU_CONCURRENCY={cpu_slots}  (prefork, one slot per core)")
        self.stdout.write("  one beat and one web for the whole deployment; PostgreSQL and Redis shared")
