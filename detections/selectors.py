"""Read-side queries for detections and the dashboard."""

import datetime as dt

from django.db.models import QuerySet

from detections.models import Detection


def detection_list(
    *, camera: str | None = None, text: str | None = None, format: str | None = None, since: dt.datetime | None = None
) -> QuerySet[Detection]:
    qs = Detection.objects.select_related("camera").order_by("-id")
    if camera:
        qs = qs.filter(camera__name=camera)
    if text:
        qs = qs.filter(text=text)
    if format:
        qs = qs.filter(format=format)
    if since:
        qs = qs.filter(created_at__gte=since)
    return qs
