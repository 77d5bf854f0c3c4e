"""The API against its own published contract: the OpenAPI schema at /api/schema/, a browsable UI, and
schemathesis run on a live web process (the Procfile's line) with a token."""

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.services import camera_upsert
from devtools.net import free_port
from tests.workers import ROOT, database_url, procfile_line

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES = 25  # per operation: bounded, so the run takes about a minute


@pytest.mark.django_db
def test_the_schema_and_its_ui_are_served_to_users_only():
    client = APIClient()
    assert client.get("/api/schema/").status_code in (401, 403)
    user = User.objects.create_user("reader", password="pw")
    client.force_authenticate(user)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/cameras/", "/api/coverage/", "/api/counts/", "/api/journey/", "/api/sightings/"):
        assert path in schema["paths"], path
    ui = client.get("/api/schema/ui/")
    assert ui.status_code == 200 and b"swagger-ui" in ui.content.lower()


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"web exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # answering (401 without a token)
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(log.read_text()[-3000:])


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema():
    user = User.objects.create_superuser("contract", password="pw")
    token = Token.objects.create(user=user).key
    camera_upsert(name="dock-1", url="http://127.0.0.1:9/snap.jpg", zone="dock")
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="contract-web-", suffix=".log")[1])
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": database_url(),
        "CAMTRACK_WEB_BIND": f"127.0.0.1:{port}",
        "CAMTRACK_WEB_WORKERS": "1",
    }
    with open(log, "wb") as fh:
        web = subprocess.Popen(
            ["sh", "-c", "exec " + procfile_line("web")], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/api/schema/", web, log)
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{base}/api/schema/",
                "-H",
                f"Authorization: Token {token}",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                str(EXAMPLES),
                "--generation-deterministic",
                "--request-timeout",
                "10",
            ],
            cwd=tempfile.mkdtemp(),
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        web.terminate()
        web.wait(20)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert token not in run.stdout + run.stderr  # reproduction commands show the header filtered


def test_the_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    # --fail-on-warn: a view whose answer the schema cannot describe fails here, not in a client.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/coverage/" in (tmp_path / "schema.yml").read_text()
