"""The health check."""

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from kombu import Connection


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = type(exc).__name__
    try:
        # A fresh connection each time: a pooled one could hide a broker that just died.
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = type(exc).__name__
    try:
        # Fresh, like the broker check: a pooled client could hide a store that just died.
        redis.Redis.from_url(settings.CAMTRACK_FRAME_STORE_URL, socket_timeout=2, socket_connect_timeout=2).ping()
        checks["frame_store"] = "ok"
    except Exception as exc:
        checks["frame_store"] = type(exc).__name__
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "fail", **checks}, status=200 if healthy else 503)
