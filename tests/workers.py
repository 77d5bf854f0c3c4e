"""Real Celery workers for integration tests, started from the Procfile's own io and cpu lines."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise KeyError(name)


def database_url() -> str:
    """The URL of the test database this session created, for processes started by tests."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    host = s.get("HOST") or "127.0.0.1"
    auth = s.get("USER") or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


def purge_queues() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = list(client.scan_iter("camtrack:frame:*"))
    client.delete("io", "cpu", "unacked", "unacked_index", "camtrack:dispatch:shed", *keys)


class Worker:
    def __init__(self, name: str, extra_env: dict[str, str]) -> None:
        self.name = name
        self.env = extra_env
        self.log = tempfile.NamedTemporaryFile(prefix=f"worker-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, **extra_env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        self.proc = subprocess.Popen(
            ["sh", "-c", "exec " + procfile_line(name)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.output():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} worker exited:\n{self.output()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} worker not ready:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(scope="session")
def celery_workers(django_db_setup, django_db_blocker):
    """An io and a cpu worker against the test database, for the whole session."""
    with django_db_blocker.unblock():
        url = database_url()
    purge_queues()
    env = {
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CAMTRACK_CPU_CONCURRENCY": "2",
        "CAMTRACK_IO_CONCURRENCY": "8",
        "CAMTRACK_FILE_ROOT": str(settings.CAMTRACK_FILE_ROOT),
        # Test webhook receivers listen on 127.0.0.1.
        "CAMTRACK_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    workers = {name: Worker(name, env) for name in ("io", "cpu")}
    try:
        for w in workers.values():
            w.wait_ready()
        yield workers
    finally:
        for w in workers.values():
            w.stop()


class Supervised:
    """A Procfile line run under devtools.supervise, as `make demo` runs it."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.log = Path(tempfile.mkstemp(prefix=f"supervised-{name}-", suffix=".log")[1])
        full = {**os.environ, **env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        command = [sys.executable, "-m", "devtools.supervise", "--name", name, "--"]
        command += ["sh", "-c", "exec " + procfile_line(name)]
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=full, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def restarts(self) -> int:
        return self.output().count(f"supervise[{self.name}]: pid ")

    def child_alive(self) -> bool:
        """The supervisor runs and its latest child has not exited."""
        if self.proc.poll() is not None:
            return False
        started = [line for line in self.output().splitlines() if line.startswith(f"supervise[{self.name}]: ")]
        return bool(started) and "started pid" in started[-1]

    def child_pid(self) -> int | None:
        """The pid of the process the supervisor started last."""
        started = [line for line in self.output().splitlines() if line.startswith(f"supervise[{self.name}]: started")]
        return int(started[-1].rsplit(" ", 1)[1]) if started else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
