"""devtools.supervise keeps a process running, and the demo launcher runs every process under it."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from devtools.launcher import supervised

ROOT = Path(__file__).resolve().parent.parent.parent

# Exits 3 on its first two runs, then stays up: what a worker that lost its broker looks like.
FLAKY = 'n=$(cat runs 2>/dev/null || echo 0); echo $((n+1)) > runs; [ "$n" -ge 2 ] && exec sleep 60; exit 3'


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_process_that_exits_is_started_again_and_a_stop_reaches_it(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.supervise", "--name", "flaky", "--", "sh", "-c", FLAKY],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    runs = tmp_path / "runs"
    try:
        # Pauses of 1 s then 2 s between the runs.
        assert _wait_for(lambda: runs.exists() and runs.read_text().strip() == "3", 10)
        time.sleep(0.3)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read()
    assert out.count("exited with 3") == 2, out
    assert "restart 1 in 1 s" in out and "restart 2 in 2 s" in out, out
    assert code == 128 + signal.SIGTERM  # the sleep it ran was stopped by the TERM passed on
    assert runs.read_text().strip() == "3"  # not started again once told to stop


def test_the_demo_runs_every_procfile_line_under_the_supervisor():
    line = supervised("io: celery -A camtrack worker -Q io --concurrency ${CAMTRACK_IO_CONCURRENCY:-16}")
    name, command = line.split(":", 1)
    assert name == "io"
    assert command.split()[:5] == [sys.executable, "-m", "devtools.supervise", "--name", "io"]
    assert command.endswith("-- celery -A camtrack worker -Q io --concurrency ${CAMTRACK_IO_CONCURRENCY:-16}")


def test_compose_restarts_every_long_running_service_and_keeps_the_broker_data():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if name != "migrate":
            assert service.get("restart") in ("always", "unless-stopped"), name
    redis_cmd = compose["services"]["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert compose["services"]["redis"]["volumes"]


def test_systemd_units_restart_always_and_run_procfile_lines():
    unit = (ROOT / "deploy" / "systemd" / "camtrack@.service").read_text()
    assert "\nRestart=always\n" in unit and "\nStartLimitIntervalSec=0\n" in unit
    assert "ExecStart=/srv/camtrack/scripts/proc %i" in unit
