"""The console in headless Chromium against the configured database (e.g. after seed_history):
how long each page takes to be ready, and how long a new sighting takes from its first frame's
capture to the operator's screen, with the Procfile's web, io, cpu and beat processes running.

Ready is the page's own ``console-ready`` mark (its data drawn), measured from navigation start.
A parcel is a code that the simulator starts showing on one of a few live cameras; the browser
stamps the moment its row appears in the overview's live feed (a MutationObserver, same clock as
this process), and the sighting's ``first_seen`` is its first frame's capture time.
"""

import datetime as dt
import json
import secrets
import statistics
import time
import uuid

import requests
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from cameras.models import Camera, Snapshot
from cameras.services import camera_upsert
from devtools import browser
from devtools.bench import procs
from devtools.net import free_port
from devtools.simulator import Simulator
from tracking.models import Sighting

READY_CEILING_MS = 1500.0
LIVE_CEILING_MS = 1500.0
LIVE_ZONE = "bench-live"
# Stamps the first moment each code's row is on screen in the live feed.
WATCH_FEED = """
window.seenAt = {};
const feed = document.getElementById('feed');
const stamp = () => {
  for (const a of feed.querySelectorAll('a.code')) {
    if (!(a.textContent in window.seenAt)) window.seenAt[a.textContent] = Date.now();
  }
};
new MutationObserver(stamp).observe(feed, {childList: true, subtree: true});
stamp();
"""


def _summary(values: list[float]) -> dict:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else None
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 1) if ordered else None,
        "p95": round(p95, 1) if p95 is not None else None,
        "max": round(ordered[-1], 1) if ordered else None,
    }


class Command(BaseCommand):
    help = "Time the console in headless Chromium: page ready times and sighting-to-screen latency."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loads", type=int, default=7, help="timed loads of each page")
        parser.add_argument("--parcels", type=int, default=20)
        parser.add_argument("--live-cameras", type=int, default=4, help="simulated cameras the parcels pass")
        parser.add_argument(
            "--capture-all",
            action="store_true",
            help="point every other camera at the simulator too, so the whole site is captured during the run",
        )
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: object, **opts: object) -> None:
        if not browser.available():
            raise SystemExit("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
        others = list(
            Camera.objects.filter(enabled=True).exclude(zone__name=LIVE_ZONE).values_list("pk", "name", "url")
        )
        live = [f"bench-live-{i + 1}" for i in range(opts["live_cameras"])]
        names = live + ([name for _, name, _ in others] if opts["capture_all"] else [])
        sim = Simulator(port=0, cameras=names).start()
        for name in names:
            sim.set_payload(name, "")
        user, password = f"bench-console-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(12)
        User.objects.create_user(user, password=password)
        for name in live:
            camera_upsert(name=name, url=sim.url(name), interval_s=1.0, timeout_s=1.0, zone=LIVE_ZONE)
        if opts["capture_all"]:
            for pk, name, _ in others:
                Camera.objects.filter(pk=pk).update(url=sim.url(name))
        else:
            # Only the parcels' cameras are captured: the site's history is there, its cameras rest.
            Camera.objects.filter(pk__in=[pk for pk, _, _ in others]).update(enabled=False)
        port = free_port()
        env = {"CAMTRACK_WEB_BIND": f"127.0.0.1:{port}", "CAMTRACK_WEB_WORKERS": str(opts["web_workers"])}
        lines = procs.procfile_lines()
        running = [procs.start(kind, lines[kind], env) for kind in ("web", "io", "cpu", "beat")]
        window = None
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_http(base)
            _wait(
                lambda: Camera.objects.filter(name__in=live, status="online").count() == len(live), 60, "live cameras"
            )
            window = browser.Browser(base)
            window.login(user, password)
            started = time.time()
            result = {
                "cameras": Camera.objects.count(),
                "sightings_in_db": Sighting.objects.count(),
                "capture_all": opts["capture_all"],
                "pages": self._pages(window, opts["loads"]),
                "live": self._live(window, sim, live, opts["parcels"]),
                "browser_errors": window.errors(),
                "foreign_requests": window.foreign_requests(),
                "ceilings_ms": {"ready": READY_CEILING_MS, "sighting_to_screen": LIVE_CEILING_MS},
                "cpu_s": {p.kind: round(p.cpu_seconds(), 1) for p in running},
            }
            elapsed = time.time() - started
            since = dt.datetime.fromtimestamp(started, tz=dt.UTC)
            stored = Snapshot.objects.filter(scheduled_at__gte=since, status=Snapshot.Status.OK).count()
            result["pipeline"] = {"seconds": round(elapsed, 1), "snapshots_per_s": round(stored / elapsed, 1)}
        finally:
            if window is not None:
                window.close()
            for proc in running:
                procs.stop(proc)
            sim.stop()
            Camera.objects.filter(name__in=live).delete()
            for pk, _, url in others:
                Camera.objects.filter(pk=pk).update(enabled=True, url=url)
            User.objects.filter(username=user).delete()
        self._report(result, as_json=opts["json"])

    def _pages(self, window: browser.Browser, loads: int) -> dict:
        busiest = (
            Sighting.objects.values("text").annotate(n=Count("id")).order_by("-n").values_list("text", flat=True)[:1]
        )
        code = busiest[0] if busiest else "nothing"
        first = Camera.objects.order_by("name").values_list("name", flat=True).first()
        zone = Camera.objects.exclude(zone=None).order_by("name").values_list("zone__name", flat=True).first()
        pages = {
            "overview /": "/",
            "journey": f"/journey/?code={requests.utils.quote(code)}",
            "counts (zone)": f"/counts/?zone={requests.utils.quote(zone or '')}",
            "camera": f"/cameras/{first}/",
            "alerts": "/alerts/",
        }
        out = {}
        for label, path in pages.items():
            ready, served = [], []
            window.open(path)  # a first, untimed load: the browser's own caches are warm, as for an operator
            window.wait_ready(30)
            for _ in range(loads):
                window.open(path)
                ready.append(window.wait_ready(30))
                served.append(window.performance()["responseEnd"])
            out[label] = {"ready_ms": _summary(ready), "html_received_ms": _summary(served), "path": path}
        return out

    def _live(self, window: browser.Browser, sim: Simulator, live: list[str], parcels: int) -> dict:
        window.open("/")
        window.wait_ready(30)
        window.js(WATCH_FEED)
        time.sleep(2.0)  # the stream is open
        shown: dict[str, tuple[str, float]] = {}
        for i in range(parcels):
            camera = live[i % len(live)]
            code = f"BENCH-{uuid.uuid4().hex[:10].upper()}"
            sim.set_payload(camera, code)
            shown[code] = (camera, time.time())
            _wait(lambda c=code: window.js("return arguments[0] in window.seenAt", c), 15, f"{code} on screen")
            time.sleep(1.0)
            sim.set_payload(camera, "")
        seen_at = window.js("return window.seenAt")
        to_screen, from_show = [], []
        for code, (camera, at) in shown.items():
            sighting = Sighting.objects.filter(text=code, camera__name=camera).order_by("first_seen").first()
            if sighting is None or code not in seen_at:
                continue
            to_screen.append(seen_at[code] - sighting.first_seen.timestamp() * 1000)
            from_show.append(seen_at[code] - at * 1000)
        return {
            "parcels": parcels,
            "on_screen": len(to_screen),
            "capture_to_screen_ms": _summary(to_screen),
            "shown_to_screen_ms": _summary(from_show),
        }

    def _report(self, result: dict, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(result, indent=2))
            return
        w = self.stdout.write
        w(f"console: {result['cameras']} cameras, {result['sightings_in_db']:,} sightings in the database")
        w(f"{'page':<16} {'ready median':>13} {'p95':>8} {'max':>8} {'html':>8}   ceiling")
        for label, page in result["pages"].items():
            r, h = page["ready_ms"], page["html_received_ms"]
            w(
                f"{label:<16} {r['median']:>10} ms {r['p95']:>5} ms {r['max']:>5} ms {h['median']:>5} ms"
                f"   {READY_CEILING_MS:.0f} ms"
            )
        live = result["live"]
        c, s = live["capture_to_screen_ms"], live["shown_to_screen_ms"]
        w(
            f"new sighting, first frame's capture → on screen: median {c['median']} ms, p95 {c['p95']} ms, "
            f"max {c['max']} ms over {live['on_screen']}/{live['parcels']} parcels (ceiling {LIVE_CEILING_MS:.0f} ms)"
        )
        w(f"  (code shown by the camera → on screen, slot wait included: median {s['median']} ms, max {s['max']} ms)")
        w(
            f"browser errors: {len(result['browser_errors'])}, "
            f"requests outside the project: {len(result['foreign_requests'])}"
        )
        for line in result["browser_errors"] + result["foreign_requests"]:
            w(f"  {line}")
        p = result["pipeline"]
        w(f"pipeline meanwhile: {p['snapshots_per_s']} snapshots/s stored over {p['seconds']} s")
        w(f"process CPU during the run (s): {result['cpu_s']}")


def _wait_http(base: str) -> None:
    _wait(lambda: _answers(base), 30, "the web process")


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)
