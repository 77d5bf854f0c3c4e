"""GET /api/coverage/: how every due slot ended (stored, failed by class, skipped by reason), per camera
and per hour, with the share stored."""

import datetime as dt

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cameras.coverage import hour_floor, slot_coverage
from web.schema import coverage_schema
from web.tracking_api import parse_when

DEFAULT_HOURS = 24
MAX_HOURS = 31 * 24


class CoverageView(APIView):
    @coverage_schema
    def get(self, request: Request) -> Response:
        params = request.query_params
        until = parse_when(params, "until") or dt.datetime.now(dt.UTC)
        since = parse_when(params, "since") or hour_floor(until - dt.timedelta(hours=DEFAULT_HOURS - 1))
        if since >= until:
            raise ValidationError({"since": "must be before until"})
        if until - since > dt.timedelta(hours=MAX_HOURS):
            raise ValidationError({"since": f"at most {MAX_HOURS} hours per request"})
        camera = params.get("camera") or None
        with_hours = camera is not None or params.get("hours") in ("1", "true", "yes")
        report = slot_coverage(since=since, until=until, camera_name=camera)
        cameras = []
        for name, cov in report.cameras.items():
            item = {"camera": name, **cov.as_dict()}
            if with_hours:
                hours = sorted(report.hours[name].items())
                item["hours"] = [{"hour": hour.isoformat(), **c.as_dict()} for hour, c in hours]
            cameras.append(item)
        return Response(
            {
                "since": hour_floor(since).isoformat(),
                "until": until.isoformat(),
                "total": report.total.as_dict(),
                "cameras": cameras,
            }
        )
