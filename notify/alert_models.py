"""Alert rules and the alerts they raise (imported by notify.models, where Django finds models)."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from cameras.models import Camera, Zone


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        CAMERA_OFFLINE = "camera_offline", "camera offline for at least `seconds`"
        READ_RATE = "read_rate", "read rate under `threshold_pct` over `window_min` minutes"
        NO_SIGHTING = "no_sighting", "no sighting at the camera or zone for `seconds`"
        WATCHED_CODE = "watched_code", "a watched code seen (only in `zone` if set)"
        EXPECTED_ROUTE = "expected_route", "a code seen in `zone` does not reach `to_zone` within `seconds`"

    class Match(models.TextChoices):
        EXACT = "exact"
        PREFIX = "prefix"
        REGEX = "regex"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    zone = models.ForeignKey(Zone, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    to_zone = models.ForeignKey(
        Zone, null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="expected route: where to"
    )
    seconds = models.FloatField(default=60.0, validators=[MinValueValidator(1.0)])
    threshold_pct = models.FloatField(null=True, blank=True, help_text="read rate: alert under this share of frames")
    window_min = models.PositiveIntegerField(default=10, help_text="read rate: over the last minutes")
    code_match = models.CharField(max_length=10, choices=Match.choices, default=Match.EXACT)
    code = models.CharField(
        max_length=500, blank=True, help_text="watched code (or route filter): text, prefix or regex"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.code_match == self.Match.REGEX and self.code:
            try:
                re.compile(self.code)
            except re.error as exc:
                raise ValidationError({"code": f"not a regular expression: {exc}"}) from None
        if self.kind == self.Kind.WATCHED_CODE and not self.code:
            raise ValidationError({"code": "a watched-code rule needs a code"})
        if self.kind == self.Kind.EXPECTED_ROUTE and not (self.zone_id and self.to_zone_id):
            raise ValidationError({"to_zone": "an expected route needs a zone and a to_zone"})
        if self.kind == self.Kind.READ_RATE and self.threshold_pct is None:
            raise ValidationError({"threshold_pct": "a read-rate rule needs a threshold"})


class Alert(models.Model):
    """One raising of a rule for one key (a camera, a zone, a code); open until cleared."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    key = models.CharField(max_length=200)
    detail = models.JSONField(default=dict)
    raised_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_reason = models.CharField(max_length=200, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "key"], condition=Q(cleared_at__isnull=True), name="alert_once_open"
            )
        ]
        indexes = [models.Index(fields=["cleared_at", "-id"], name="alert_open_idx")]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.key}"


class RouteWatch(models.Model):
    """An expected route in progress: a code seen at the origin zone, due at the target by ``deadline``."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="watches")
    code = models.TextField()
    camera = models.CharField(max_length=100, blank=True)
    seen_at = models.DateTimeField()
    deadline = models.DateTimeField()
    met_at = models.DateTimeField(null=True, blank=True)
    missed = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["rule", "deadline"], condition=Q(met_at__isnull=True, missed=False), name="route_pending_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.code[:40]}"
