"""REST API: cameras and detections, token or session auth, paginated with next links."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cameras.models import Camera, CameraEvent
from cameras.selectors import EMPTY_STATS, camera_capture_stats, camera_event_list
from cameras.services import cameras_set_enabled
from detections.decoders.types import raw_b64
from detections.models import Detection
from detections.selectors import detection_list
from web.cameras_api import (
    IMPORT_PARSERS,
    CameraWriteSerializer,
    ImportReportSerializer,
    ImportRequestSerializer,
    import_run,
    import_text,
)
from web.pagination import NewestFirst
from web.permissions import RolePermissions
from web.tracking_api import parse_when


class CameraSerializer(serializers.ModelSerializer):
    """A camera with its health; statistics come from the view's context (one query per page)."""

    zone = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
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
            "mode",
            "roi",
            "downscale",
            "zone",
            "sighting_gap_s",
            "change_gate",
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


class CameraViewSet(viewsets.ModelViewSet):
    """Cameras with their health. Operators create, update, enable/disable, delete and import them; the
    answer to a write is the camera as read (never its credentials)."""

    serializer_class = CameraSerializer
    permission_classes = [RolePermissions]
    lookup_field = "name"
    # Names may hold dots and spaces (the CSV and the admin accept them); a slash would end the segment.
    lookup_value_regex = "[^/]+"
    queryset = Camera.objects.select_related("zone").order_by("name")
    _stats: dict = {}

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action in ("create", "update", "partial_update"):
            return CameraWriteSerializer
        return CameraSerializer

    def _answer(self, camera: Camera, status_code: int = status.HTTP_200_OK) -> Response:
        self._stats = camera_capture_stats(camera_ids=[camera.pk])
        camera = Camera.objects.select_related("zone").get(pk=camera.pk)
        return Response(CameraSerializer(camera, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(request=CameraWriteSerializer, responses={201: CameraSerializer})
    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = CameraWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._answer(serializer.save(), status.HTTP_201_CREATED)

    @extend_schema(request=CameraWriteSerializer, responses=CameraSerializer)
    def update(self, request: Request, *args: object, **kwargs: object) -> Response:
        partial = kwargs.pop("partial", False)
        serializer = CameraWriteSerializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return self._answer(serializer.save())

    @extend_schema(request=CameraWriteSerializer, responses=CameraSerializer)
    def partial_update(self, request: Request, *args: object, **kwargs: object) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(request=None, responses=CameraSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, name: str | None = None) -> Response:
        """Captured again from its next interval (the time it was off owes no slots)."""
        camera = self.get_object()
        cameras_set_enabled(camera_ids=[camera.pk], enabled=True)
        return self._answer(camera)

    @extend_schema(request=None, responses=CameraSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, name: str | None = None) -> Response:
        camera = self.get_object()
        cameras_set_enabled(camera_ids=[camera.pk], enabled=False)
        return self._answer(camera)

    @extend_schema(request=ImportRequestSerializer, responses=ImportReportSerializer)
    @action(detail=False, methods=["post"], url_path="import", parser_classes=IMPORT_PARSERS)
    def import_csv(self, request: Request) -> Response:
        """The CSV of `manage.py import_cameras`: cameras created or updated by name, good rows kept, bad
        ones reported by line."""
        return Response(import_run(import_text(request.data)))

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
