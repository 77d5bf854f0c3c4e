"""Processes a benchmark starts (from the Procfile's own lines) and the CPU and memory they use."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent.parent


def procfile_lines() -> dict[str, str]:
    lines = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if ":" in line and not line.startswith("#"):
            name, cmd = line.split(":", 1)
            lines[name.strip()] = cmd.strip()
    return lines


@dataclass
class Proc:
    kind: str
    popen: subprocess.Popen
    log: Path
    cpu_start: float = 0.0
    peak_rss: int = 0
    seen: dict = field(default_factory=dict)

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        # Children that exited are remembered by pid so their time is not lost.
        for p in self.tree():
            try:
                t = p.cpu_times()
                self.seen[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return sum(self.seen.values())

    def rss(self) -> int:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        self.peak_rss = max(self.peak_rss, total)
        return total

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(kind: str, command: str, env: dict[str, str]) -> Proc:
    log = Path(tempfile.mkstemp(prefix=f"bench-{kind}-", suffix=".log")[1])
    full_env = {**os.environ, **env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with open(log, "wb") as fh:
        popen = subprocess.Popen(
            ["sh", "-c", "exec " + command],
            cwd=ROOT,
            env=full_env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(kind=kind, popen=popen, log=log)


def stop(proc: Proc, timeout: float = 20) -> None:
    if proc.popen.poll() is not None:
        return
    os.killpg(proc.popen.pid, signal.SIGTERM)
    try:
        proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(5)


def wait_for_text(proc: Proc, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.output():
            return
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.kind} exited:\n{proc.output()[-2000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"{proc.kind} did not print {text!r}:\n{proc.output()[-2000:]}")


class ServiceCpu:
    """CPU used by the database and Redis servers on this host (they are part of the cost)."""

    NAMES = {"postgres": "postgres", "redis-server": "redis", "beam.smp": "rabbitmq"}

    def __init__(self) -> None:
        self.start = self._sample()

    def _sample(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for p in psutil.process_iter(["name", "cpu_times"]):
            kind = next((v for k, v in self.NAMES.items() if (p.info["name"] or "").startswith(k)), None)
            if kind and p.info["cpu_times"]:
                t = p.info["cpu_times"]
                totals[kind] = totals.get(kind, 0.0) + t.user + t.system
        return totals

    def used(self) -> dict[str, float]:
        end = self._sample()
        return {k: max(0.0, end.get(k, 0.0) - self.start.get(k, 0.0)) for k in end}
