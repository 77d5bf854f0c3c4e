"""Starts camtrack on one host: `python -m devtools.launcher demo` (what `make demo` runs) and
`python -m devtools.launcher test [pytest args]` (what `make test` runs).

Both start the embedded Redis when CELERY_BROKER_URL is not set.
"""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from devtools.net import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("CAMTRACK_DATA_DIR", str(ROOT / "data"))
    env.setdefault("CELERY_WORKER_SEND_TASK_EVENTS", "true")
    return env


def supervised(line: str) -> str:
    """A Procfile line run under devtools.supervise: honcho stops everything when one process ends,
    so each process that dies (a broker restart can kill a worker) is started again instead."""
    name, command = line.split(":", 1)
    return f"{name}: {sys.executable} -m devtools.supervise --name {name} -- {command.strip()}"


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def _admin_credentials(data_dir: Path) -> tuple[str, str]:
    user = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
    if password:
        return user, password
    path = data_dir / "demo-admin-password"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(12))
    return user, path.read_text().strip()


def demo() -> int:
    env = _env()
    data_dir = Path(env["CAMTRACK_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    if "CELERY_BROKER_URL" not in env:
        port = env.setdefault("CAMTRACK_EMBEDDED_REDIS_PORT", "6380")
        lines.append(f"redis: {sys.executable} -m devtools.embedded_redis --port {port} --dir {data_dir}")
    sim_port = env.get("CAMTRACK_SIMULATOR_PORT", "8090")
    cameras = env.get("CAMTRACK_DEMO_CAMERAS", "6")
    lines.append(
        f"simulator: {sys.executable} manage.py simulate --register --port {sim_port} --cameras {cameras} --interval 1"
    )
    lines += [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    procfile = data_dir / "Procfile.demo"
    procfile.write_text("\n".join(supervised(line) for line in lines) + "\n")

    # Every process of the demo writes its metrics here, so the web's /metrics shows them all; emptied at
    # each start, as prometheus_client's multiprocess mode requires.
    metrics_dir = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(data_dir / "metrics")))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "collectstatic", "--noinput", "-v", "0")
    user, password = _admin_credentials(data_dir)
    env_admin = {**env, "DJANGO_SUPERUSER_USERNAME": user, "DJANGO_SUPERUSER_PASSWORD": password}
    _manage(env_admin, "ensure_admin")
    print(
        "\n  camtrack demo\n"
        f"  console    http://127.0.0.1:8000/   (user {user}, password {password})\n"
        "  admin      http://127.0.0.1:8000/admin/\n"
        "  API        http://127.0.0.1:8000/api/detections/\n"
        "  flower     http://127.0.0.1:5555/\n"
        "  metrics    http://127.0.0.1:8000/metrics\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    honcho = shutil.which("honcho", path=env["PATH"]) or "honcho"
    return subprocess.call([honcho, "-f", str(procfile), "-d", str(ROOT), "start"], env=env, cwd=ROOT)


def test(args: list[str]) -> int:
    env = _env()
    redis_proc = None
    if "CELERY_BROKER_URL" not in env:
        from devtools import embedded_redis

        port = free_port()
        data_dir = Path(env["CAMTRACK_DATA_DIR"])
        data_dir.mkdir(parents=True, exist_ok=True)
        redis_proc = embedded_redis.start(port, str(data_dir))
        env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
        print(f"embedded redis for tests on port {port}", flush=True)
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *args], env=env, cwd=ROOT)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        raise SystemExit("usage: python -m devtools.launcher demo | test [pytest args]")
    sys.exit(demo() if sys.argv[1] == "demo" else test(sys.argv[2:]))


if __name__ == "__main__":
    main()
