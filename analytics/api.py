"""REST API: cameras and detections, token or session auth, paginated with next links."""

import base64
import datetime as dt

from django.utils.dateparse import parse_datetime
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError

from analytics.models import Detection
from analytics.selectors import detection_list
from cameras.models import Camera


class CameraSerializer(serializers.ModelSerializer):
    class Meta:
        model = Camera
        # Never username or password; the URL is stored without credentials.
        fields = [
            "name", "url", "enabled", "interval_s", "timeout_s", "formats", "status", "status_since", "last_error",
            "last_capture_at", "captures_ok", "captures_failed", "captures_skipped", "consecutive_failures",
        ]


class DetectionSerializer(serializers.ModelSerializer):
    camera = serializers.CharField(source="camera.name")
    raw = serializers.SerializerMethodField()

    class Meta:
        model = Detection
        fields = ["id", "camera", "format", "text", "raw", "position", "scheduled_at", "captured_at", "created_at"]

    def get_raw(self, obj: Detection) -> str | None:
        return base64.b64encode(bytes(obj.raw)).decode() if obj.raw else None


class CameraViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CameraSerializer
    lookup_field = "name"
    queryset = Camera.objects.order_by("name")


class DetectionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DetectionSerializer

    def get_queryset(self):
        params = self.request.query_params
        since = None
        if params.get("since"):
            since = parse_datetime(params["since"])
            if since is None:
                raise ValidationError({"since": "expected an ISO 8601 date-time"})
            if since.tzinfo is None:
                since = since.replace(tzinfo=dt.UTC)
        return detection_list(
            camera=params.get("camera") or None, text=params.get("text") or None,
            format=params.get("format") or None, since=since,
        )
