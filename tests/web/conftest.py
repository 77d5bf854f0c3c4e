import os
import time

import pytest
import requests
from django.conf import settings

from devtools.bench import procs
from devtools.net import free_port
from tests.workers import database_url


def start_web(port: int, database: str) -> procs.Proc:
    """The Procfile's web process (gunicorn + uvicorn, ASGI) on ``port``, answering once this returns."""
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CAMTRACK_WEB_BIND": f"127.0.0.1:{port}",
        "CAMTRACK_WEB_WORKERS": "1",
        "CAMTRACK_SSE_HEARTBEAT_S": "0.5",
    }
    proc = procs.start("web", procs.procfile_lines()["web"], env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except requests.RequestException:  # not listening yet, or still starting
            time.sleep(0.2)
    return proc


@pytest.fixture
def web(django_db_blocker):
    """The web process against the test database, on a free port; yields its base URL."""
    port = free_port()
    with django_db_blocker.unblock():
        url = database_url()
    proc = start_web(port, url)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop(proc)
