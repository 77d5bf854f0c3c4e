"""The operator's console: server-rendered pages that carry their first data inline, then follow the
event stream (server-sent events) in the browser. Charts are drawn by uPlot from /api/counts/.

Every page is one request to a first full screen: the data a page shows first is embedded as JSON
(``json_script``), so the browser needs no second round trip before it can draw, and 1000 cameras
cost one small query rather than a page of the REST API with statistics.
"""

import datetime as dt
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET
from redis import RedisError

from cameras.latest import LatestFrame, latest_get
from cameras.models import Camera, Zone
from cameras.selectors import EMPTY_STATS, camera_capture_stats, camera_event_list, camera_status_counts
from notify.events import events_last_id
from notify.models import Alert
from tracking.selectors import camera_recent_sightings, counts, sighting_list
from web.alerts_api import AlertSerializer
from web.tracking_api import SightingSerializer, journey_payload

# What the viewer role (and every role above it) holds: the console shows what the API lets it read.
VIEW_PERMISSION = "cameras.view_camera"
RECENT_SIGHTINGS = 40
RECENT_ALERTS = 100

# Everything from the project itself: no script, style, font or picture from anywhere else.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def console_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A console page: logged in, GET only, with a CSRF cookie for its POSTs and the project-only CSP."""

    @wraps(view)
    @login_required
    @permission_required(VIEW_PERMISSION, raise_exception=True)
    @require_GET
    @ensure_csrf_cookie
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        # Where the event log stands before the page's data is read: the browser follows the log from
        # here, so an event that happens while the page loads is not missed (at worst seen twice,
        # and every panel applies an event idempotently).
        request.events_after = _events_position()
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CSP
        response["Cache-Control"] = "no-store"
        return response

    return wrapper


def _events_position() -> str | None:
    try:
        return events_last_id()
    except RedisError:
        return None  # the log is away: the page follows live events once it is back


def board() -> dict:
    """Every camera in a compact form (one query), the zones and the status summary."""
    rows = Camera.objects.order_by("name").values_list(
        "name", "zone__name", "status", "status_since", "last_capture_at", "last_error", "enabled"
    )
    cameras = [
        {
            "name": name,
            "zone": zone,
            "status": status,
            "since": since,
            "last_capture_at": last,
            "error": error,
            "enabled": enabled,
        }
        for name, zone, status, since, last, error, enabled in rows
    ]
    return {
        "cameras": cameras,
        "zones": list(Zone.objects.order_by("name").values_list("name", flat=True)),
        "summary": camera_status_counts(),
    }


def _alerts(*, open_only: bool, limit: int) -> list[dict]:
    qs = Alert.objects.select_related("rule").order_by("-id")
    qs = qs.filter(cleared_at__isnull=True) if open_only else qs.filter(~Q(cleared_at__isnull=True))
    return AlertSerializer(qs[:limit], many=True).data


def _page(request: HttpRequest, template: str, data: dict, **context: object) -> HttpResponse:
    open_alerts = list(Alert.objects.filter(cleared_at__isnull=True).values_list("pk", flat=True)[:1000])
    stream = {
        "after": getattr(request, "events_after", None),
        "open_alerts": open_alerts,
        "can_acknowledge": request.user.has_perm("notify.change_alert"),
    }
    context = {
        "data": data,
        "stream": stream,
        "summary": camera_status_counts(),
        "open_alerts": len(open_alerts),
        **context,
    }
    return render(request, template, context)


@console_view
def overview(request: HttpRequest) -> HttpResponse:
    data = {
        **board(),
        "sightings": SightingSerializer(sighting_list()[:RECENT_SIGHTINGS], many=True).data,
        "alerts": _alerts(open_only=True, limit=RECENT_ALERTS),
    }
    return _page(request, "web/console/overview.html", data, page="overview")


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_GET
def board_json(request: HttpRequest) -> JsonResponse:
    """What the overview redraws from after a reconnect whose gap the event log no longer holds."""
    return JsonResponse(board())


@console_view
def journey_page(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "")
    data = journey_payload(code) if code else {"code": "", "last_seen": None, "sightings": []}
    return _page(request, "web/console/journey.html", data, page="journey", code=code)


@console_view
def counts_page(request: HttpRequest) -> HttpResponse:
    data = {
        "zones": list(Zone.objects.order_by("name").values_list("name", flat=True)),
        "cameras": list(Camera.objects.order_by("name").values_list("name", flat=True)),
    }
    return _page(request, "web/console/counts.html", data, page="counts")


@console_view
def alerts_page(request: HttpRequest) -> HttpResponse:
    data = {
        "open": _alerts(open_only=True, limit=RECENT_ALERTS),
        "history": _alerts(open_only=False, limit=RECENT_ALERTS),
    }
    return _page(request, "web/console/alerts.html", data, page="alerts")


def _read_rate(camera: Camera) -> float | None:
    now = dt.datetime.now(dt.UTC)
    rows = counts(bucket="minute", since=now - dt.timedelta(hours=1), until=now, camera=camera)
    frames = sum(r.frames for r in rows)
    return round(sum(r.reads for r in rows) / frames, 4) if frames else None


@console_view
def camera_page(request: HttpRequest, name: str) -> HttpResponse:
    camera = get_object_or_404(Camera.objects.select_related("zone"), name=name)
    stats = camera_capture_stats(camera_ids=[camera.pk]).get(camera.pk, EMPTY_STATS)
    data = {
        "name": camera.name,
        "zone": camera.zone.name if camera.zone_id else None,
        "status": camera.status,
        "since": camera.status_since,
        "error": camera.last_error,
        "interval_s": camera.interval_s,
        "capture_p50_ms": stats.capture_p50_ms,
        "capture_p95_ms": stats.capture_p95_ms,
        "success_ratio": stats.success_ratio,
        "read_rate_1h": _read_rate(camera),
        "events": [
            {"at": e.at, "previous": e.previous, "status": e.status, "reason": e.reason}
            for e in camera_event_list(camera=camera, limit=50)
        ],
        "sightings": SightingSerializer(camera_recent_sightings(camera=camera, limit=RECENT_SIGHTINGS), many=True).data,
    }
    return _page(request, "web/console/camera.html", data, page="camera", camera=camera)


def _latest(name: str) -> LatestFrame | None:
    camera_id = Camera.objects.filter(name=name).values_list("pk", flat=True).first()
    if camera_id is None:
        raise Http404("no such camera")
    return latest_get(camera_id)


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_GET
def camera_latest_jpg(request: HttpRequest, name: str) -> HttpResponse:
    """The camera's last decoded frame, as it was captured (kept in Redis for a minute, never on disk)."""
    latest = _latest(name)
    if latest is None:
        raise Http404("no frame from this camera in the last minute")
    response = HttpResponse(latest.jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_GET
def camera_latest_json(request: HttpRequest, name: str) -> JsonResponse:
    """When the latest frame was taken and where its codes are (full-frame pixels), for the outlines.

    A camera with no recent frame answers ``{"available": false}``: that is news, not an error.
    """
    latest = _latest(name)
    response = JsonResponse({"available": True, **latest.meta} if latest else {"available": False})
    response["Cache-Control"] = "no-store"
    return response
