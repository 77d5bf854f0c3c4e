"""OpenAPI descriptions of the API views that build their answers by hand (journey, counts, coverage):
serializers that document the shape, so the schema at /api/schema/ covers every endpoint."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

SINCE = OpenApiParameter("since", OpenApiTypes.DATETIME, description="ISO 8601; UTC when no offset is given")
UNTIL = OpenApiParameter("until", OpenApiTypes.DATETIME, description="ISO 8601; default now")


class PlaceSerializer(serializers.Serializer):
    camera = serializers.CharField()
    zone = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()


class VisitSerializer(serializers.Serializer):
    camera = serializers.CharField()
    zone = serializers.CharField(allow_null=True)
    format = serializers.CharField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    frames = serializers.IntegerField()
    dwell_s = serializers.FloatField()


class JourneySerializer(serializers.Serializer):
    code = serializers.CharField()
    last_seen = PlaceSerializer(allow_null=True)
    sightings = VisitSerializer(many=True)


class CountBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    camera = serializers.CharField(required=False)
    zone = serializers.CharField(required=False)
    sightings = serializers.IntegerField()
    codes = serializers.IntegerField()
    frames = serializers.IntegerField()
    reads = serializers.IntegerField()
    no_reads = serializers.IntegerField()
    read_rate = serializers.FloatField(allow_null=True)


class CountsSerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=["minute", "hour", "day"])
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    camera = serializers.CharField(required=False)
    zone = serializers.CharField(required=False)
    results = CountBucketSerializer(many=True)


class SlotsSerializer(serializers.Serializer):
    due = serializers.IntegerField()
    stored = serializers.IntegerField()
    failed = serializers.DictField(child=serializers.IntegerField(), help_text="slots by error class")
    skipped = serializers.DictField(child=serializers.IntegerField(), help_text="slots by reason")
    coverage = serializers.FloatField(allow_null=True, help_text="stored / due; null when nothing was due")


class HourSlotsSerializer(SlotsSerializer):
    hour = serializers.DateTimeField()


class CameraSlotsSerializer(SlotsSerializer):
    camera = serializers.CharField()
    hours = HourSlotsSerializer(many=True, required=False)


class CoverageSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    total = SlotsSerializer()
    cameras = CameraSlotsSerializer(many=True)


journey_schema = extend_schema(
    parameters=[OpenApiParameter("code", str, required=True, description="the exact payload")],
    responses=JourneySerializer,
)
counts_schema = extend_schema(
    parameters=[
        OpenApiParameter("bucket", str, enum=["minute", "hour", "day"]),
        OpenApiParameter("camera", str, description="a camera's name (or zone=)"),
        OpenApiParameter("zone", str, description="a zone's name (or camera=)"),
        SINCE,
        UNTIL,
    ],
    responses=CountsSerializer,
)
coverage_schema = extend_schema(
    parameters=[
        OpenApiParameter("camera", str, description="one camera (adds its hours)"),
        OpenApiParameter("hours", bool, description="per-hour figures for every camera"),
        SINCE,
        UNTIL,
    ],
    responses=CoverageSerializer,
)
