"""Alert rules: each alert is raised once, cleared when its condition ends, and travels the event log
(``alert.raised`` / ``alert.cleared``) so that every channel carries it.

Rules about what happens (a watched code seen, an expected route) follow the sighting events; rules
about time passing (a camera offline for N s, a low read rate, nothing seen for N s, a route not
completed in time) are checked every second. Alerts live in the database; the notify process may
restart at any time and carries on from its position in the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum

from cameras.models import Camera
from notify.channels import Channel
from notify.events import Event, events_write
from notify.models import Alert, AlertRule, RouteWatch
from tracking.models import CameraMinute, Sighting

logger = logging.getLogger(__name__)
CHECK_EVERY_S = 1.0
RULES_CACHE_S = 5.0


def alert_raise(*, rule: AlertRule, key: str, detail: dict) -> Alert | None:
    """Raise the alert of (rule, key) unless it is open already; announce it."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(rule=rule, key=key[:200], detail=detail)
    except IntegrityError:
        return None  # open already: raised once
    events_write([("alert.raised", _body(alert))])
    logger.info("alert raised: %s %s", rule.name, key)
    return alert


def alert_clear(*, rule: AlertRule, key: str, reason: str) -> Alert | None:
    alert = Alert.objects.filter(rule=rule, key=key[:200], cleared_at__isnull=True).first()
    if alert is None:
        return None
    now = dt.datetime.now(dt.UTC)
    if not Alert.objects.filter(pk=alert.pk, cleared_at__isnull=True).update(
        cleared_at=now, cleared_reason=reason[:200]
    ):
        return None
    alert.cleared_at, alert.cleared_reason = now, reason
    events_write([("alert.cleared", _body(alert))])
    return alert


def alert_acknowledge(*, alert: Alert, by: str) -> Alert:
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = dt.datetime.now(dt.UTC), by[:150]
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return alert


def _body(alert: Alert) -> dict:
    rule = alert.rule
    return {
        "alert": alert.pk,
        "rule": rule.name,
        "kind": rule.kind,
        "key": alert.key,
        "camera": alert.detail.get("camera"),
        "zone": alert.detail.get("zone"),
        "code": alert.detail.get("code"),
        "detail": alert.detail,
        "raised_at": alert.raised_at,
        "cleared_at": alert.cleared_at,
    }


def code_matches(rule: AlertRule, code: str) -> bool:
    if rule.code_match == AlertRule.Match.PREFIX:
        return code.startswith(rule.code)
    if rule.code_match == AlertRule.Match.REGEX:
        return re.search(rule.code, code) is not None
    return code == rule.code


def _cameras(rule: AlertRule):
    qs = Camera.objects.filter(enabled=True)
    if rule.camera_id:
        qs = qs.filter(pk=rule.camera_id)
    elif rule.zone_id:
        qs = qs.filter(zone_id=rule.zone_id)
    return qs


class AlertChannel(Channel):
    name = "alerts"

    def __init__(self) -> None:
        self._rules: list[AlertRule] = []
        self._rules_at = 0.0
        self._checked = 0.0

    def rules(self) -> list[AlertRule]:
        if time.monotonic() - self._rules_at > RULES_CACHE_S:
            self._rules = list(AlertRule.objects.filter(enabled=True).select_related("camera", "zone", "to_zone"))
            self._rules_at = time.monotonic()
        return self._rules

    # --- what happens --------------------------------------------------------------------------
    def handle(self, events: list[Event]) -> None:
        rules = self.rules()
        if not rules:
            return
        for event in events:
            body = event.body
            code, zone, camera = body.get("code") or "", body.get("zone"), body.get("camera")
            for rule in rules:
                if rule.kind == AlertRule.Kind.WATCHED_CODE and event.type in ("sighting.new", "sighting.end"):
                    if not code_matches(rule, code) or (rule.zone_id and zone != rule.zone.name):
                        continue
                    key = f"{code}@{camera}"
                    if event.type == "sighting.new":
                        alert_raise(rule=rule, key=key, detail={"code": code, "camera": camera, "zone": zone})
                    else:
                        alert_clear(rule=rule, key=key, reason="code left the camera")
                elif rule.kind == AlertRule.Kind.EXPECTED_ROUTE and event.type == "sighting.new" and code:
                    self._route(rule, event, code, zone, camera)

    def _route(self, rule: AlertRule, event: Event, code: str, zone: str | None, camera: str | None) -> None:
        if rule.code and not code_matches(rule, code):
            return
        seen = _when(event.body.get("first_seen")) or dt.datetime.now(dt.UTC)
        if rule.to_zone_id and zone == rule.to_zone.name:
            # Arrived: every open expectation of this code is met; a missed one raised earlier clears.
            RouteWatch.objects.filter(rule=rule, code=code, met_at__isnull=True).update(met_at=seen)
            alert_clear(rule=rule, key=code, reason=f"reached {zone} at {camera}")
        elif rule.zone_id and zone == rule.zone.name:
            deadline = seen + dt.timedelta(seconds=rule.seconds)
            RouteWatch.objects.update_or_create(
                rule=rule,
                code=code,
                met_at__isnull=True,
                missed=False,
                defaults={"seen_at": seen, "camera": camera or "", "deadline": deadline},
            )

    # --- time passing --------------------------------------------------------------------------
    def tick(self) -> None:
        if time.monotonic() - self._checked < CHECK_EVERY_S:
            return
        self._checked = time.monotonic()
        now = dt.datetime.now(dt.UTC)
        for rule in self.rules():
            check = {
                AlertRule.Kind.CAMERA_OFFLINE: self._offline,
                AlertRule.Kind.READ_RATE: self._read_rate,
                AlertRule.Kind.NO_SIGHTING: self._quiet,
                AlertRule.Kind.EXPECTED_ROUTE: self._route_deadlines,
            }.get(rule.kind)
            if check is not None:
                check(rule, now)

    def _offline(self, rule: AlertRule, now: dt.datetime) -> None:
        cutoff = now - dt.timedelta(seconds=rule.seconds)
        for camera in _cameras(rule).select_related("zone"):
            down = camera.status == Camera.Status.OFFLINE and camera.status_since and camera.status_since <= cutoff
            if down:
                alert_raise(
                    rule=rule,
                    key=camera.name,
                    detail={
                        "camera": camera.name,
                        "zone": camera.zone.name if camera.zone_id else None,
                        "since": camera.status_since.isoformat(),
                        "reason": camera.last_error,
                    },
                )
            elif camera.status != Camera.Status.OFFLINE:
                alert_clear(rule=rule, key=camera.name, reason=f"camera {camera.status}")

    def _read_rate(self, rule: AlertRule, now: dt.datetime) -> None:
        since = now - dt.timedelta(minutes=rule.window_min)
        for camera in _cameras(rule).select_related("zone"):
            totals = CameraMinute.objects.filter(camera=camera, start__gte=since).aggregate(
                f=Sum("frames"), r=Sum("reads")
            )
            frames, reads = totals["f"] or 0, totals["r"] or 0
            if frames < 5:
                continue  # too little to judge
            rate = 100.0 * reads / frames
            if rate < (rule.threshold_pct or 0):
                alert_raise(
                    rule=rule,
                    key=camera.name,
                    detail={
                        "camera": camera.name,
                        "zone": camera.zone.name if camera.zone_id else None,
                        "read_rate_pct": round(rate, 1),
                        "frames": frames,
                    },
                )
            else:
                alert_clear(rule=rule, key=camera.name, reason=f"read rate {rate:.1f} %")

    def _quiet(self, rule: AlertRule, now: dt.datetime) -> None:
        since = now - dt.timedelta(seconds=rule.seconds)
        where = Q(camera_id=rule.camera_id) if rule.camera_id else Q(zone_id=rule.zone_id) if rule.zone_id else Q()
        key = rule.camera.name if rule.camera_id else rule.zone.name if rule.zone_id else "*"
        recent = Sighting.objects.filter(where, Q(last_seen__gte=since) | Q(ended_at__isnull=True)).exists()
        if recent:
            alert_clear(rule=rule, key=key, reason="seen again")
        elif now - rule.created_at >= dt.timedelta(seconds=rule.seconds):
            alert_raise(
                rule=rule,
                key=key,
                detail={
                    "camera": rule.camera.name if rule.camera_id else None,
                    "zone": rule.zone.name if rule.zone_id else None,
                    "quiet_for_s": rule.seconds,
                },
            )

    def _route_deadlines(self, rule: AlertRule, now: dt.datetime) -> None:
        for watch in RouteWatch.objects.filter(rule=rule, met_at__isnull=True, missed=False, deadline__lt=now):
            if RouteWatch.objects.filter(pk=watch.pk, missed=False).update(missed=True):
                alert_raise(
                    rule=rule,
                    key=watch.code,
                    detail={
                        "code": watch.code,
                        "camera": watch.camera,
                        "zone": rule.zone.name if rule.zone_id else None,
                        "expected_zone": rule.to_zone.name if rule.to_zone_id else None,
                        "seen_at": watch.seen_at.isoformat(),
                        "within_s": rule.seconds,
                    },
                )


def _when(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def channel() -> AlertChannel:
    return AlertChannel()
