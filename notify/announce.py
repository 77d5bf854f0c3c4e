"""What the pipeline tells the event log: sightings begun, updated and ended, camera status changes."""

import datetime as dt
from typing import Any

from django.conf import settings

from cameras.models import Camera
from cameras.selectors import camera_places
from notify.events import events_publish
from tracking.models import Sighting
from tracking.services import TrackResult


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def sighting_body(s: Sighting, places: dict[int, tuple[str, str | None]]) -> dict[str, Any]:
    camera, zone = places.get(s.camera_id, (str(s.camera_id), None))
    return {
        "sighting": s.pk,
        "camera": camera,
        "zone": zone,
        "code": s.text,
        "format": s.format,
        "first_seen": _iso(s.first_seen),
        "last_seen": _iso(s.last_seen),
        "ended_at": _iso(s.ended_at),
        "frames": s.frames,
    }


def _places(camera_ids: set[int]) -> dict[int, tuple[str, str | None]]:
    return {pk: (p.name, p.zone) for pk, p in camera_places(camera_ids=camera_ids).items()}


def sightings_announce(
    *, opened: list[Sighting] = (), extended: list[tuple[Sighting, dt.datetime]] = (), ended: list[Sighting] = ()
) -> None:
    """sighting.new / sighting.update (a long one, at most every CAMTRACK_SIGHTING_UPDATE_S) / sighting.end."""
    every = settings.CAMTRACK_SIGHTING_UPDATE_S
    updates = [
        s
        for s, before in extended
        if every > 0
        and int((s.last_seen - s.first_seen).total_seconds() // every)
        > int((before - s.first_seen).total_seconds() // every)
    ]
    todo = list(opened) + updates + list(ended)
    if not todo:
        return
    places = _places({s.camera_id for s in todo})
    events = [("sighting.new", sighting_body(s, places)) for s in opened if s.pk]
    events += [("sighting.update", sighting_body(s, places)) for s in updates]
    events += [("sighting.end", sighting_body(s, places)) for s in ended if s.pk]
    events_publish(events)


def track_result_announce(result: TrackResult) -> None:
    sightings_announce(opened=result.opened, extended=result.extended, ended=result.ended)


def camera_status_announce(
    *, camera_id: int, at: dt.datetime, status: str, previous: str, reason: str, **_: Any
) -> None:
    camera = Camera.objects.filter(pk=camera_id).values_list("name", "zone__name").first()
    if camera is None:
        return
    body = {
        "camera": camera[0],
        "zone": camera[1],
        "status": status,
        "previous": previous,
        "reason": reason,
        "since": _iso(at),
    }
    events_publish([("camera.status", body)])
