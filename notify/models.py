"""Webhook subscriptions and their deliveries: one row per event per subscription, with its retry state."""

import base64
import binascii
import re
import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from notify.events import TYPES

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)


def secret_generate() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64 (the spec asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_secret(value: str) -> None:
    # The message never quotes the value: a secret typed wrongly is still someone's secret.
    if not value.startswith(SECRET_PREFIX):
        raise ValidationError(f"a secret starts with {SECRET_PREFIX} followed by base64")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"a secret is {SECRET_PREFIX} followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValidationError("a secret's key is 24 to 64 bytes")


def validate_webhook_url(url: str) -> None:
    # Not Django's URLValidator: it rejects hosts without a dot, such as a compose service name.
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValidationError("not a URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError("a webhook URL is http:// or https://")
    if not parts.hostname:
        raise ValidationError("URL has no host")
    if parts.username is not None or parts.password is not None:
        # The URL is shown in pages and API output; receivers authenticate camtrack by the signature.
        raise ValidationError("no credentials in the URL: the signature authenticates camtrack")
    if any(c.isspace() for c in url):
        raise ValidationError("URL contains whitespace")


def validate_event_types(value: str) -> None:
    unknown = [t for t in split_types(value) if t not in TYPES]
    if unknown:
        raise ValidationError(f"unknown event types {', '.join(unknown)}; known: {', '.join(TYPES)}")


def validate_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"not a regular expression: {exc}") from None


def split_types(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


# What an operator sets on a subscription: the admin form and the API take the same fields.
SUBSCRIPTION_FIELDS = (
    "name",
    "url",
    "secret",
    "enabled",
    "event_types",
    "camera",
    "zone",
    "code_prefix",
    "code_regex",
    "cooldown_s",
)


class WebhookSubscription(models.Model):
    """Where to POST which events. Blank filters match anything."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(max_length=2000, validators=[validate_webhook_url])
    # Write-only: signs deliveries; never rendered in pages, API output, logs or task messages.
    secret = models.CharField(max_length=200, default=secret_generate, validators=[validate_secret])
    enabled = models.BooleanField(default=True)
    event_types = models.CharField(
        max_length=300,
        blank=True,
        validators=[validate_event_types],
        help_text="comma-separated event types (sighting.new, sighting.end, camera.status, …); blank for all",
    )
    camera = models.CharField(max_length=100, blank=True, help_text="camera name, blank for any")
    zone = models.CharField(max_length=100, blank=True, help_text="zone name, blank for any")
    code_prefix = models.CharField(max_length=200, blank=True)
    code_regex = models.CharField(
        max_length=500, blank=True, validators=[validate_regex], help_text="searched in the code; anchor with ^…$"
    )
    cooldown_s = models.PositiveIntegerField(
        default=0, help_text="a code delivered once is not delivered again for the same event type for this long"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def types(self) -> frozenset[str]:
        return frozenset(split_types(self.event_types) or TYPES)


class WebhookDelivery(models.Model):
    """One event for one subscription, as sent (``payload``), and how sending it went.

    pending: will be tried at ``next_attempt_at``; delivered: a 2xx came back; failed: refused and
    not retried; dead: every attempt of the schedule failed (dead-lettered; an operator may re-send).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"
        DEAD = "dead"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40)
    payload = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # At most once per subscription, even when the channel handles an event twice.
            models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            # The sweep for overdue retries reads pending rows only.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.subscription_id}"

    @property
    def webhook_id(self) -> str:
        """The Standard Webhooks message id: the same on every attempt, so receivers can drop repeats."""
        return f"msg_{self.event_id}"


# Alert rules and alerts live in their own module; imported here so Django finds them.
from notify.alert_models import Alert, AlertRule, RouteWatch  # noqa: E402, F401
