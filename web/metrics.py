"""GET /metrics: Prometheus text format, for the web process and (with PROMETHEUS_MULTIPROC_DIR shared)
every process of its host; plus the state read at scrape time (camtrack.metrics)."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from camtrack.metrics import registry


def metrics(request: HttpRequest) -> HttpResponse:
    # Scrapers send a bearer token when one is configured; without one the endpoint answers whoever
    # reaches the web process (it binds to 127.0.0.1 unless told otherwise).
    token = settings.CAMTRACK_METRICS_TOKEN
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return HttpResponse("metrics need the bearer token\n", status=401, content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
