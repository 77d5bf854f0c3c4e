"""Read-side queries for cameras."""

from django.db.models import Count, QuerySet

from cameras.models import Camera


def camera_list() -> QuerySet[Camera]:
    return Camera.objects.order_by("name")


def camera_status_counts() -> dict[str, int]:
    counts = dict.fromkeys(Camera.Status.values, 0)
    for row in Camera.objects.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts
