"""How the event stream holds up with many clients: N server-sent-event clients on one web process.

Starts the Procfile's web line (ASGI) on a free port, opens N streams, writes events at a steady
rate with their write time in the body, and reports delivery latency per client and in total,
beside the ceiling (1.5 s p95) it is judged against.
"""

import asyncio
import json
import statistics
import time
import uuid

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from devtools.bench import procs
from devtools.net import free_port
from notify.events import events_write

CEILING_P95_S = 1.5


async def _client(
    port: int, token: str, run: str, latencies: list[float], ready: asyncio.Event, counter: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/events/stream?token={token}&types=sighting.new HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"retry:"):  # the stream is open and positioned
                counter[0] += 1
                if counter[0] == counter[1]:
                    ready.set()
            if line.startswith(b"data: ") and run.encode() in line:
                body = json.loads(line[6:])
                latencies.append(time.time() - body["sent"])
    except (asyncio.CancelledError, ConnectionError):
        pass
    finally:
        writer.close()


class Command(BaseCommand):
    help = "Delivery latency of server-sent events to N clients of one web process."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--clients", type=int, default=200)
        parser.add_argument("--rate", type=float, default=20.0, help="events per second written")
        parser.add_argument("--duration", type=float, default=20.0)
        parser.add_argument("--workers", type=int, default=1, help="web worker processes")

    def handle(self, *args, **opts) -> None:
        port = free_port()
        user, _ = User.objects.get_or_create(username="bench-sse")
        token, _ = Token.objects.get_or_create(user=user)
        env = {
            "CAMTRACK_WEB_BIND": f"127.0.0.1:{port}",
            "CAMTRACK_WEB_WORKERS": str(opts["workers"]),
        }
        proc = procs.start("web", procs.procfile_lines()["web"], env)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except requests.RequestException:
                    time.sleep(0.3)
            result = asyncio.run(self._run(port, token.key, opts))
        finally:
            procs.stop(proc, timeout=30)
        self.stdout.write(json.dumps(result, indent=2))

    async def _run(self, port: int, token: str, opts: dict) -> dict:
        run = uuid.uuid4().hex
        n, rate, duration = opts["clients"], opts["rate"], opts["duration"]
        per_client: list[list[float]] = [[] for _ in range(n)]
        ready = asyncio.Event()
        counter = [0, n]
        tasks = [asyncio.create_task(_client(port, token, run, per_client[i], ready, counter)) for i in range(n)]
        try:
            await asyncio.wait_for(ready.wait(), 60)
        except TimeoutError:
            raise SystemExit(f"only {counter[0]} of {n} streams opened within 60 s") from None
        await asyncio.sleep(2.0)  # every stream positioned at the newest event
        sent = 0
        start = time.monotonic()
        while time.monotonic() - start < duration:
            await asyncio.to_thread(events_write, [("sighting.new", {"run": run, "sent": time.time(), "n": sent})])
            sent += 1
            await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))
        await asyncio.sleep(3.0)
        for t in tasks:
            t.cancel()
        everything = sorted(x for lat in per_client for x in lat)
        received = sum(len(lat) for lat in per_client)

        def pct(q: float) -> float:
            return round(everything[min(len(everything) - 1, int(q * len(everything)))], 3) if everything else None

        return {
            "clients": n,
            "events_sent": sent,
            "deliveries_expected": sent * n,
            "deliveries_received": received,
            "clients_complete": sum(1 for lat in per_client if len(lat) == sent),
            "clients_empty": sum(1 for lat in per_client if not lat),
            "latency_p50_s": pct(0.5),
            "latency_p95_s": pct(0.95),
            "latency_max_s": round(everything[-1], 3) if everything else None,
            "worst_client_p95_s": round(
                max(statistics.quantiles(lat, n=20)[-1] for lat in per_client if len(lat) > 2), 3
            )
            if any(len(lat) > 2 for lat in per_client)
            else None,
            "ceiling_p95_s": CEILING_P95_S,
            "events_url": settings.CAMTRACK_EVENTS_URL.split("@")[-1],
        }
