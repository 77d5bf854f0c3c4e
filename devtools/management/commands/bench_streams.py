"""Stream mode under load: N RTSP cameras held by one streams process, every slot decoded and stored.

Starts the GStreamer RTSP server with N clock-clip mounts (pre-encoded 720p H.264, 10 fps, 2 s
key-frame interval, shared media), then the Procfile's cpu and streams lines against this
database and broker, adds N stream cameras, lets them warm up, and measures a window: slots stored
per camera, latency (detection created_at - slot), sessions per camera at the server (sampled every
second), and the CPU and memory of each process. Prints each figure beside its ceiling.
"""

import datetime as dt
import statistics
import time

import psutil
from django.core.management.base import BaseCommand, CommandError

from cameras.models import Camera, Snapshot
from cameras.services import camera_upsert
from detections.models import Detection
from devtools.bench import procs
from devtools.rtsp import clock_clip, gstreamer_available, start_rtsp_server

CEILING_STORED = 0.95  # of each camera's slots
CEILING_P95_S = 1.0
CEILING_STREAMS_CORES = 0.5


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values[0] if values else 0.0)


class Command(BaseCommand):
    help = "Measure N stream-mode RTSP cameras through one streams process (figures beside ceilings)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cameras", type=int, default=50)
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument("--timeout", type=float, default=4.0)
        parser.add_argument("--duration", type=float, default=60.0, help="seconds measured")
        parser.add_argument("--warmup", type=float, default=15.0)
        parser.add_argument("--fps", type=int, default=10)
        parser.add_argument("--decode", default="auto", choices=["auto", "key", "all"], help="decoding policy")
        parser.add_argument(
            "--restart-at", type=float, default=0.0, help="kill the RTSP server this many seconds into the window"
        )
        parser.add_argument("--outage", type=float, default=10.0, help="seconds the killed server stays down")

    def handle(self, *args, **opts) -> None:
        if not gstreamer_available():
            raise CommandError("needs GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0)")
        n, interval = opts["cameras"], opts["interval"]
        clip = clock_clip(fps=opts["fps"], gop_s=2.0)
        server = start_rtsp_server(clips={f"cam{i:03d}": clip for i in range(n)}, fps=opts["fps"])
        Camera.objects.filter(name__startswith="bench-stream-").delete()
        env = {"CAMTRACK_STREAM_DECODE": opts["decode"]}
        running = [procs.start("cpu", procs.procfile_lines()["cpu"], env)]
        try:
            procs.wait_for_text(running[0], "ready.")
            for i in range(n):
                camera_upsert(
                    name=f"bench-stream-{i:03d}",
                    url=server.url(f"cam{i:03d}"),
                    interval_s=interval,
                    timeout_s=opts["timeout"],
                    mode="stream",
                )
            streams = procs.start("streams", procs.procfile_lines()["streams"], env)
            running.append(streams)
            procs.wait_for_text(streams, "ready.")
            time.sleep(opts["warmup"])
            result = self._measure(server, running, opts)
        finally:
            for proc in reversed(running):
                procs.stop(proc)
            server.stop()
        self._report(result, clip.stat().st_size / 60, opts)

    def _measure(self, server, running: list, opts: dict) -> dict:
        def server_cpu() -> float:
            return sum(psutil.Process(server.process.pid).cpu_times()[:2])

        server_cpu0, server_used = server_cpu(), 0.0
        for proc in running:
            proc.cpu_start = proc.cpu_seconds()
        start = time.time()
        max_playing, plays0 = 0, server.status()["plays"]
        killed_at = back_at = None
        while time.time() < start + opts["duration"]:
            time.sleep(1)
            if opts["restart_at"] and killed_at is None and time.time() >= start + opts["restart_at"]:
                server_used += server_cpu() - server_cpu0
                server.kill()
                killed_at = time.time()
                time.sleep(opts["outage"])
                server.start()
                back_at, plays0 = time.time(), {}  # a new server counts its sessions from zero
                server_cpu0 = 0.0
            status = server.status()
            max_playing = max([max_playing, *status["playing"].values()])
            for proc in running:
                proc.rss()
        end = time.time()
        cpu = {p.kind: (p.cpu_seconds() - p.cpu_start) / (end - start) for p in running}
        cpu["rtsp server"] = (server_used + server_cpu() - server_cpu0) / (end - start)
        rss = {p.kind: p.peak_rss for p in running}
        time.sleep(opts["timeout"] + 2)  # the window's last slots finish decoding
        window = {
            "scheduled_at__gte": dt.datetime.fromtimestamp(start, tz=dt.UTC),
            "scheduled_at__lt": dt.datetime.fromtimestamp(end, tz=dt.UTC),
        }
        cams = Camera.objects.filter(name__startswith="bench-stream-")
        expected = (end - start) / opts["interval"]
        stored = {c.name: 0 for c in cams}
        for name in Snapshot.objects.filter(camera__in=cams, status="ok", **window).values_list(
            "camera__name", flat=True
        ):
            stored[name] += 1
        failed = Snapshot.objects.filter(camera__in=cams, status="failed", **window).count()
        latencies = [
            (created - scheduled).total_seconds()
            for created, scheduled in Detection.objects.filter(camera__in=cams, **window).values_list(
                "created_at", "scheduled_at"
            )
        ]
        status = server.status()
        new_sessions = {m: status["plays"].get(m, 0) - plays0.get(m, 0) for m in status["plays"]}
        outage = self._outage(cams, killed_at, back_at, opts) if killed_at else None
        return {
            "outage": outage,
            "ratios": sorted(min(1.0, v / expected) for v in stored.values()),
            "stored": sum(stored.values()),
            "expected": expected * len(stored),
            "failed": failed,
            "latencies": latencies,
            "max_playing": max_playing,
            "plays": status["plays"],
            "new_sessions": sum(new_sessions.values()),
            "cpu": cpu,
            "rss": rss,
        }

    def _outage(self, cams, killed_at: float, back_at: float, opts: dict) -> dict:
        """Per camera: how long after the restart its first slot was stored, and what the outage left."""
        recovery, failed, silent, errors = [], [], [], set()
        for camera in cams:
            snaps = Snapshot.objects.filter(camera=camera)
            first_ok = (
                snaps.filter(status="ok", scheduled_at__gte=dt.datetime.fromtimestamp(back_at, tz=dt.UTC))
                .order_by("scheduled_at")
                .values_list("finished_at", flat=True)
                .first()
            )
            recovery.append(first_ok.timestamp() - back_at if first_ok else float("inf"))
            # Slots from one timeout after the kill to the restart: each must be there, failed with why.
            lo, hi = killed_at + camera.timeout_s, back_at
            during = snaps.filter(
                scheduled_at__gte=dt.datetime.fromtimestamp(lo, tz=dt.UTC),
                scheduled_at__lt=dt.datetime.fromtimestamp(hi, tz=dt.UTC),
            )
            failed.append(during.filter(status="failed").count())
            errors |= set(during.filter(status="failed").values_list("error", flat=True))
            silent.append(max(0, int((hi - lo) / camera.interval_s) - during.count()))
        return {"recovery": recovery, "failed": failed, "silent": silent, "errors": sorted(errors)}

    def _report(self, r: dict, clip_bytes_per_s: float, opts: dict) -> None:
        out = self.stdout.write
        n = opts["cameras"]
        lat = r["latencies"] or [0.0]
        out(
            f"bench_streams: {n} cameras, {opts['interval']} s interval, {opts['fps']} fps, 2 s GOP, 720p, "
            f"decode={opts['decode']}, {opts['duration']:.0f} s measured, "
            f"at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        )
        out(f"  slots stored      {r['stored']} of {r['expected']:.0f}, failed {r['failed']}")
        out(
            f"  worst camera      {r['ratios'][0] * 100:.1f} % of its slots   (ceiling >= {CEILING_STORED * 100:.0f} %)"
        )
        out(
            f"  latency           p50 {_p(lat, 50):.3f} s, p95 {_p(lat, 95):.3f} s, max {max(lat):.3f} s"
            f"   (ceiling p95 <= {CEILING_P95_S} s; {len(r['latencies'])} detections)"
        )
        # After a server restart, exactly one new session per camera on the new server.
        one_each = r["max_playing"] <= 1 and r["new_sessions"] == (n if r["outage"] else 0) and len(r["plays"]) == n
        out(
            f"  sessions          {len(r['plays'])} mounts played, at most {r['max_playing']} at once per mount, "
            f"{r['new_sessions']} new during the window{' (after the restart)' if r['outage'] else ''}   "
            f"(ceiling: exactly one per camera: {'ok' if one_each else 'NO'})"
        )
        streams_cpu = r["cpu"].get("streams", 0.0)
        out(
            f"  streams process   {streams_cpu:.3f} cores ({streams_cpu / n * 100:.2f} % of a core per camera), "
            f"peak RSS {r['rss'].get('streams', 0) / 2**20:.0f} MiB   (ceiling <= {CEILING_STREAMS_CORES} cores)"
        )
        others = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu"].items() if k != "streams")
        out(f"  other cores       {others}")
        out(
            f"  network in        {clip_bytes_per_s * 8 / 1e6:.2f} Mbit/s per camera, "
            f"{clip_bytes_per_s * 8 * n / 1e6:.1f} in all"
        )
        outage_ok = True
        if r["outage"]:
            o, limit = r["outage"], opts["timeout"] + 10
            outage_ok = max(o["recovery"]) <= limit and max(o["silent"]) == 0 and min(o["failed"]) > 0
            out(
                f"  server restart    down {opts['outage']:.0f} s; every camera back within {max(o['recovery']):.1f} s "
                f"(median {statistics.median(o['recovery']):.1f} s)   (ceiling <= timeout + 10 = {limit:.0f} s)"
            )
            out(
                f"  outage slots      {min(o['failed'])}-{max(o['failed'])} failed per camera "
                f"({', '.join(o['errors'])}), {sum(o['silent'])} silent   (ceiling: none silent)"
            )
        ok = (
            outage_ok
            and (r["ratios"][0] >= CEILING_STORED or bool(r["outage"]))
            and _p(lat, 95) <= CEILING_P95_S
            and one_each
            and streams_cpu <= CEILING_STREAMS_CORES
        )
        out(f"  verdict           {'within every ceiling' if ok else 'OVER A CEILING'}")
