"""CPU per snapshot of the io stage's HTTP fetch: the source as the io stage calls it (a batch's
cameras handed to the process's asyncio loop at once), the same source one capture per thread, and
bare asyncio clients (aiohttp, httpx) fetching the same simulated cameras, with the same concurrency
and connection reuse. The threaded requests source it replaced measured 1.34-1.40 ms per fetch here
(aiohttp bare: 0.55).

Only this process's CPU is counted (the simulator runs in its own process), so the figure holds on a
busy host too; wall time is printed for reference.
"""

import asyncio
import logging
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait

import requests
from django.core.management.base import BaseCommand, CommandParser

from cameras.sources import SourceConfig, grab, grab_http_many
from devtools.net import free_port


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _threads(urls: list[str], concurrency: int) -> int:
    def one(url: str) -> int:
        return len(grab(SourceConfig(url=url, timeout_s=5.0)).data)

    with ThreadPoolExecutor(concurrency) as pool:
        return sum(pool.map(one, urls))


def _batches(urls: list[str], concurrency: int, size: int = 16) -> int:
    """As the io stage grabs a batch task's HTTP cameras: one hand-over to the loop per batch."""

    def batch(chunk: list[str]) -> int:
        futures = grab_http_many([SourceConfig(url=url, timeout_s=5.0) for url in chunk])
        wait(futures)
        return sum(len(f.result()[0].data) for f in futures)

    chunks = [urls[i : i + size] for i in range(0, len(urls), size)]
    with ThreadPoolExecutor(max(1, concurrency // size)) as pool:
        return sum(pool.map(batch, chunks))


async def _aiohttp(urls: list[str], concurrency: int) -> int:
    import aiohttp

    limit = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=5.0)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def one(url: str) -> int:
            async with limit, s.get(url) as resp:
                return len(await resp.read())

        return sum(await asyncio.gather(*(one(u) for u in urls)))


async def _httpx(urls: list[str], concurrency: int) -> int:
    import httpx

    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=5.0, limits=limits) as client:

        async def one(url: str) -> int:
            async with limit:
                return len((await asyncio.wait_for(client.get(url), 5.0)).content)

        return sum(await asyncio.gather(*(one(u) for u in urls)))


class Command(BaseCommand):
    help = "CPU per HTTP snapshot: the io stage's source against bare aiohttp and httpx."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cameras", type=int, default=200)
        parser.add_argument("--fetches", type=int, default=4000)
        parser.add_argument("--concurrency", type=int, default=16, help="as CAMTRACK_IO_CONCURRENCY")
        parser.add_argument("--rounds", type=int, default=3)

    def handle(self, *args: object, **opts: object) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO
        port = free_port()
        sim = subprocess.Popen(
            [sys.executable, "-m", "devtools.simulator", "--port", str(port), "--cameras", str(opts["cameras"])],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    requests.get(f"{base}/cam/sim-01.jpg", timeout=2)
                    break
                except requests.RequestException:
                    time.sleep(0.2)
            names = [f"sim-{i:02d}" for i in range(1, opts["cameras"] + 1)]
            urls = [f"{base}/cam/{names[i % len(names)]}.jpg" for i in range(opts["fetches"])]
            clients = {
                "sources.grab from 16 threads": lambda: _threads(urls, opts["concurrency"]),
                "grab_http_many, batches of 16": lambda: _batches(urls, opts["concurrency"]),
                "asyncio + aiohttp": lambda: asyncio.run(_aiohttp(urls, opts["concurrency"])),
                "asyncio + httpx": lambda: asyncio.run(_httpx(urls, opts["concurrency"])),
            }
            _threads(urls[: len(names)], opts["concurrency"])  # the simulator's frames encoded once
            results = {label: [] for label in clients}
            for _ in range(opts["rounds"]):
                for label, run in clients.items():
                    cpu0, wall0 = _cpu(), time.perf_counter()
                    nbytes = run()
                    results[label].append((_cpu() - cpu0, time.perf_counter() - wall0, nbytes))
        finally:
            sim.terminate()
            sim.wait(10)
        n = opts["fetches"]
        self.stdout.write(f"{n} fetches per round, {opts['concurrency']} at a time, {opts['rounds']} rounds")
        self.stdout.write(f"{'client':<28} {'CPU ms/fetch':>13} {'fetches/s':>10} {'MB/fetch':>9}")
        for label, rows in results.items():
            best = min(rows)  # the round least disturbed by anything else on the host
            cpu, wall, nbytes = best
            self.stdout.write(f"{label:<28} {1000 * cpu / n:>13.3f} {n / wall:>10.0f} {nbytes / n / 1e6:>9.3f}")
