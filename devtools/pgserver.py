"""A throwaway PostgreSQL cluster of its own (initdb on a free port), which a test or the outage check
may stop and start again: the shared server must never be stopped under other work."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from devtools.net import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available() -> bool:
    return _bin("initdb") is not None and _bin("pg_ctl") is not None


class PostgresServer:
    """Runs as the ``postgres`` system user when started as root (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="camtrack-pg-"))
        self.data = self.dir / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = ["runuser", "-u", self.user, "--", *args] if self.user else list(args)
        subprocess.run(command, check=True, capture_output=True, timeout=timeout, cwd=self.dir)

    def url(self, db: str = "camtrack") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def init(self) -> PostgresServer:
        self._run(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run(_bin("createdb") or "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "camtrack")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        # Fast: connected sessions are cut off, as in a restart or a failover.
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def connect(self, db: str = "camtrack"):
        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=db, connect_timeout=3)

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect().close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
