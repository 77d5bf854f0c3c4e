"""The dashboard and the health check."""

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from kombu import Connection

from cameras.selectors import EMPTY_STATS, camera_capture_stats, camera_list, camera_status_counts
from tracking.selectors import journey, sighting_list

DASHBOARD_CAMERAS = 500
# The dashboard refreshes every two seconds: a shorter window keeps its one stats query small.
DASHBOARD_STATS_WINDOW = 50


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    cameras = list(camera_list()[:DASHBOARD_CAMERAS])
    stats = camera_capture_stats(camera_ids=[c.pk for c in cameras], window=DASHBOARD_STATS_WINDOW)
    for camera in cameras:
        camera.capture_stats = stats.get(camera.pk, EMPTY_STATS)
    code = request.GET.get("code", "").strip()
    journey_rows = journey(code=code) if code else []
    context = {
        "cameras": cameras,
        "stats_window": DASHBOARD_STATS_WINDOW,
        "counts": camera_status_counts(),
        "sightings": sighting_list()[:30],
        "code": code,
        "journey": journey_rows,
        "last": max(journey_rows, key=lambda s: s.last_seen) if journey_rows else None,
    }
    template = "web/_dashboard_body.html" if request.GET.get("partial") else "web/dashboard.html"
    return render(request, template, context)


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
