import os
import subprocess
import sys

from tests.workers import ROOT

PRINT_KEY = (
    "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'camtrack.settings'); django.setup(); "
    "from django.conf import settings; print(settings.SECRET_KEY)"
)


def test_processes_starting_together_share_one_generated_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["CAMTRACK_DATA_DIR"] = str(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PRINT_KEY], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err.decode()[-500:] for _, err in results]
    keys = {out.decode().strip() for out, _ in results}
    assert len(keys) == 1 and len(keys.pop()) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".secret_key.*"))


def test_the_visibility_timeout_outlasts_every_task_a_worker_holds():
    """A message redelivered while its first worker still holds it would run twice."""
    from django.conf import settings

    from notify.webhooks import RETRY_DELAYS_S, TIMEOUT_S
    from pipeline.tasks import decode

    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    longest_wait = max(RETRY_DELAYS_S) + sum(TIMEOUT_S)  # an ETA'd retry, then its request
    assert visibility > longest_wait
    assert visibility > decode.time_limit + settings.CAMTRACK_FRAME_TTL_S
    assert settings.CELERY_BROKER_CONNECTION_MAX_RETRIES is None  # workers never give up on the broker


def test_check_deploy_is_clean_under_the_production_settings(tmp_path):
    """README "Operating camtrack": SECRET_KEY set, DEBUG off, CAMTRACK_HTTPS on."""
    env = {**os.environ, "CAMTRACK_DATA_DIR": str(tmp_path), "CAMTRACK_HTTPS": "true", "DEBUG": "false"}
    env["SECRET_KEY"] = "x7" * 30 + "-production-key-of-sufficient-length"
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
