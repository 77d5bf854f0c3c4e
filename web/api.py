"""REST API: cameras and detections, token or session auth, paginated with next links."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cameras.models import Camera, CameraEvent
from cameras.selectors import EMPTY_STATS, camera_capture_stats, camera_event_list
from detections.decoders.types import raw_b64
from detections.models import Detection
from detections.selectors import detection_list
from web.pagination import NewestFirst
from web.tracking_api import parse_when


class CameraSerializer(serializers.ModelSerializer):
    """A camera with its health; statistics come from the view's context (one query per page)."""

    zone = serializers.SlugRelatedField(slug_field="name", read_only=True)
    capture_p50_ms = serializers.SerializerMethodField()
    capture_p95_ms = serializers.SerializerMethodField()
    success_ratio = serializers.SerializerMethodField()

    class Meta:
        model = Camera
        # Never username or password; the URL is stored without credentials.
        fields = [
            "name",
            "url",
            "enabled",
            "interval_s",
            "timeout_s",
            "formats",
            "transport",
            "roi",
            "downscale",
            "zone",
            "sighting_gap_s",
            "status",
            "status_since",
            "last_error",
            "last_capture_at",
            "captures_ok",
            "captures_failed",
            "captures_skipped",
            "consecutive_failures",
            "capture_p50_ms",
            "capture_p95_ms",
            "success_ratio",
        ]

    def _stats(self, obj: Camera):
        return self.context.get("stats", {}).get(obj.pk, EMPTY_STATS)

    def get_capture_p50_ms(self, obj: Camera) -> float | None:
        return self._stats(obj).capture_p50_ms

    def get_capture_p95_ms(self, obj: Camera) -> float | None:
        return self._stats(obj).capture_p95_ms

    def get_success_ratio(self, obj: Camera) -> float | None:
        return self._stats(obj).success_ratio


class CameraEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CameraEvent
        fields = ["at", "previous", "status", "reason"]


class DetectionSerializer(serializers.ModelSerializer):
    camera = serializers.CharField(source="camera.name")
    raw = serializers.SerializerMethodField()

    class Meta:
        model = Detection
        fields = ["id", "camera", "format", "text", "raw", "position", "scheduled_at", "captured_at", "created_at"]

    def get_raw(self, obj: Detection) -> str | None:
        return raw_b64(obj.raw)


class CameraViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CameraSerializer
    lookup_field = "name"
    queryset = Camera.objects.select_related("zone").order_by("name")
    _stats: dict = {}

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "stats": self._stats}

    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self._stats = camera_capture_stats(camera_ids=[c.pk for c in page])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: object, **kwargs: object) -> Response:
        camera = self.get_object()
        self._stats = camera_capture_stats(camera_ids=[camera.pk])
        return Response(self.get_serializer(camera).data)

    @extend_schema(responses=CameraEventSerializer(many=True))
    @action(detail=True, pagination_class=None)
    def events(self, request: Request, name: str | None = None) -> Response:
        """Status changes, newest first: "when did dock-3 go down, and why"."""
        events = camera_event_list(camera=self.get_object(), limit=200)
        return Response(CameraEventSerializer(events, many=True).data)


class DetectionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DetectionSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        params = self.request.query_params
        since = parse_when(params, "since")
        return detection_list(
            camera=params.get("camera") or None,
            text=params.get("text") or None,
            format=params.get("format") or None,
            since=since,
        )
