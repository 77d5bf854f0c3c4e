"""REST API for what was tracked: sightings, journeys of one code, counts per bucket, zones."""

import datetime as dt

from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cameras.models import Camera, Zone
from detections.decoders.types import raw_b64
from tracking.models import Sighting
from tracking.selectors import BUCKETS, counts, journey, sighting_list
from web.pagination import NewestFirst
from web.schema import counts_schema, journey_schema

MAX_COUNT_BUCKETS = 2000  # a year of days, a month of hours, a day of minutes


def parse_when(params, name: str) -> dt.datetime | None:
    from django.utils.dateparse import parse_datetime

    value = params.get(name)
    if not value:
        return None
    when = parse_datetime(value)
    if when is None:
        raise ValidationError({name: "expected an ISO 8601 date-time"})
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


class SightingSerializer(serializers.ModelSerializer):
    camera = serializers.CharField(source="camera.name")
    zone = serializers.CharField(source="zone.name", default=None)
    code = serializers.CharField(source="text")
    raw = serializers.SerializerMethodField()
    dwell_s = serializers.FloatField()

    class Meta:
        model = Sighting
        fields = [
            "id",
            "camera",
            "zone",
            "format",
            "code",
            "raw",
            "first_seen",
            "last_seen",
            "ended_at",
            "frames",
            "dwell_s",
            "first_position",
            "last_position",
        ]

    def get_raw(self, obj: Sighting) -> str | None:
        return raw_b64(obj.raw)


class SightingViewSet(viewsets.ReadOnlyModelViewSet):
    """Sightings newest first; filters camera, zone, code (exact), code_prefix, since, until, open=true."""

    serializer_class = SightingSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        params = self.request.query_params
        return sighting_list(
            camera=params.get("camera") or None,
            zone=params.get("zone") or None,
            code=params.get("code"),
            code_prefix=params.get("code_prefix") or None,
            since=parse_when(params, "since"),
            until=parse_when(params, "until"),
            open_only=params.get("open", "").lower() in ("1", "true", "yes"),
        )


def _visit(s: Sighting) -> dict:
    return {
        "camera": s.camera.name,
        "zone": s.zone.name if s.zone_id else None,
        "format": s.format,
        "first_seen": s.first_seen,
        "last_seen": s.last_seen,
        "ended_at": s.ended_at,
        "frames": s.frames,
        "dwell_s": s.dwell_s,
    }


class JourneyView(APIView):
    """Where one code (exact payload) was, in time order, and where it was last seen."""

    @journey_schema
    def get(self, request: Request) -> Response:
        code = request.query_params.get("code")
        if not code:
            raise ValidationError({"code": "the exact payload to follow is required"})
        return Response(journey_payload(code))


def journey_payload(code: str) -> dict:
    """One code's visits in time order and where it was last seen: the API's and the console's shape."""
    visits = journey(code=code)
    last = max(visits, key=lambda s: (s.last_seen, s.id), default=None)
    last_seen = None
    if last is not None:
        zone = last.zone.name if last.zone_id else None
        last_seen = {"camera": last.camera.name, "zone": zone, "at": last.last_seen}
    return {"code": code, "last_seen": last_seen, "sightings": [_visit(s) for s in visits]}


class CountsView(APIView):
    """Per bucket (minute, hour, day) for one camera or one zone: sightings, codes, frames, reads, no-reads."""

    @counts_schema
    def get(self, request: Request) -> Response:
        params = request.query_params
        bucket = params.get("bucket", "hour")
        if bucket not in BUCKETS:
            raise ValidationError({"bucket": f"one of {', '.join(BUCKETS)}"})
        camera = zone = None
        if params.get("camera"):
            camera = Camera.objects.filter(name=params["camera"]).first()
            if camera is None:
                raise NotFound(f"no camera named {params['camera']!r}")
        elif params.get("zone"):
            zone = Zone.objects.filter(name=params["zone"]).first()
            if zone is None:
                raise NotFound(f"no zone named {params['zone']!r}")
        else:
            raise ValidationError({"camera": "give camera=<name> or zone=<name>"})
        step = {"minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}[bucket]
        until = parse_when(params, "until") or dt.datetime.now(dt.UTC)
        since = parse_when(params, "since") or until - 60 * step
        if since >= until:
            raise ValidationError({"since": "must be before until"})
        if (until - since) / step > MAX_COUNT_BUCKETS:
            raise ValidationError({"since": f"at most {MAX_COUNT_BUCKETS} {bucket}s per request"})
        where = {"camera": camera.name} if camera else {"zone": zone.name}
        rows = counts(bucket=bucket, since=since, until=until, camera=camera, zone=zone)
        return Response(
            {
                "bucket": bucket,
                "since": since,
                "until": until,
                **where,
                "results": [
                    {
                        "start": r.start,
                        **where,
                        "sightings": r.sightings,
                        "codes": r.codes,
                        "frames": r.frames,
                        "reads": r.reads,
                        "no_reads": r.no_reads,
                        "gated": r.gated,
                        "read_rate": r.read_rate,
                    }
                    for r in rows
                ],
            }
        )


class ZoneSerializer(serializers.ModelSerializer):
    cameras = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Zone
        fields = ["name", "description", "cameras"]


class ZoneViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ZoneSerializer
    lookup_field = "name"
    queryset = Zone.objects.prefetch_related("cameras").order_by("name")
