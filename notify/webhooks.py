"""Webhooks: events POSTed to subscribers' URLs, signed the Standard Webhooks way, retried until an hour has passed.

The channel only decides who gets what: it writes one ``WebhookDelivery`` row per matching event and
subscription (unique, so an event handled twice is still sent once) and queues a task per row. The
io workers send them (``delivery_attempt``), each attempt claimed by a short lease on the row so two
messages for one delivery never send it twice at once.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import logging
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

import requests
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from notify.channels import Channel
from notify.events import Event, client
from notify.models import WebhookDelivery, WebhookSubscription, split_types

logger = logging.getLogger(__name__)

COOLDOWN_KEY = "camtrack:webhooks:cooldown:"  # + subscription id : event type : hash of the code
SUBSCRIPTIONS_CACHE_S = 5.0
# The io pool runs threads, where Celery's time limits do not apply: every attempt is bounded here.
TIMEOUT_S = (3.0, 10.0)  # connect, read
# Longer than one attempt can take (DNS, connect, read), so a lease only lapses when its worker died.
LEASE_S = 60.0
USER_AGENT = "camtrack-webhooks"


def _retry_delays() -> tuple[float, ...]:
    # 5 s, doubling, capped at 10 min, until the waits add up to an hour: 12 retries, 3635 s in all.
    delays: list[float] = []
    while sum(delays) < 3600:
        delays.append(min(5.0 * 2 ** len(delays), 600.0))
    return tuple(delays)


RETRY_DELAYS_S = _retry_delays()
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1

Status = WebhookDelivery.Status


# --- Matching (the notify process) ---------------------------------------------------------------


@dataclass(frozen=True)
class _Subscription:
    """What matching needs of a subscription; the secret is never loaded into the notify process."""

    id: int
    types: frozenset[str]
    camera: str
    zone: str
    code_prefix: str
    regex: re.Pattern | None
    cooldown_s: int

    def matches(self, event: Event) -> bool:
        if event.type not in self.types:
            return False
        body = event.body
        if self.camera and body.get("camera") != self.camera:
            return False
        if self.zone and body.get("zone") != self.zone:
            return False
        if self.code_prefix or self.regex:
            code = body.get("code")
            if not isinstance(code, str):
                return False  # a code filter never matches an event without a code (camera.status)
            if self.code_prefix and not code.startswith(self.code_prefix):
                return False
            if self.regex and not self.regex.search(code):
                return False
        return True


def _subscriptions_load() -> list[_Subscription]:
    from notify.events import TYPES

    out = []
    rows = WebhookSubscription.objects.filter(enabled=True).values(
        "id", "name", "event_types", "camera", "zone", "code_prefix", "code_regex", "cooldown_s"
    )
    for row in rows:
        try:
            regex = re.compile(row["code_regex"]) if row["code_regex"] else None
        except re.error:
            # Validated on save; a row written around validation must not stop every other subscription.
            logger.warning("webhooks: subscription %s has an invalid code_regex; skipped", row["name"])
            continue
        out.append(
            _Subscription(
                id=row["id"],
                types=frozenset(split_types(row["event_types"]) or TYPES),
                camera=row["camera"],
                zone=row["zone"],
                code_prefix=row["code_prefix"],
                regex=regex,
                cooldown_s=row["cooldown_s"],
            )
        )
    return out


def _cooldown_key(sub: _Subscription, event: Event) -> str:
    code = str(event.body.get("code"))
    return f"{COOLDOWN_KEY}{sub.id}:{event.type}:{hashlib.sha256(code.encode()).hexdigest()[:32]}"


def _cooldown_pass(pairs: list[tuple[_Subscription, Event]]) -> list[tuple[_Subscription, Event]]:
    """The pairs not held back by their subscription's cooldown, claiming the cooldown for those that pass.

    A claim holds the event id, so the same event handled again (the channel retried after a failure
    further on) passes its own claim; the unique delivery row then keeps it from being sent twice.
    """
    held = [i for i, (s, e) in enumerate(pairs) if s.cooldown_s > 0 and isinstance(e.body.get("code"), str)]
    if not held:
        return pairs
    keys = {i: _cooldown_key(*pairs[i]) for i in held}
    redis = client()
    pipe = redis.pipeline(transaction=False)
    for i in held:
        pipe.set(keys[i], pairs[i][1].id, nx=True, ex=pairs[i][0].cooldown_s)
    passed = dict(zip(held, pipe.execute(), strict=True))
    lost = [i for i in held if not passed[i]]
    if lost:
        for i, holder in zip(lost, redis.mget([keys[i] for i in lost]), strict=True):
            passed[i] = holder is not None and holder.decode() == pairs[i][1].id
    return [p for i, p in enumerate(pairs) if passed.get(i, True)]


class WebhookChannel(Channel):
    name = "webhooks"

    def __init__(self) -> None:
        self._subs: list[_Subscription] = []
        self._loaded_at: float | None = None

    def _subscriptions(self) -> list[_Subscription]:
        # Edits apply within a few seconds without a query per batch of events.
        now = time.monotonic()
        if self._loaded_at is None or now - self._loaded_at >= SUBSCRIPTIONS_CACHE_S:
            self._subs = _subscriptions_load()
            self._loaded_at = now
        return self._subs

    def handle(self, events: list[Event]) -> None:
        # This thread keeps its connection for the life of the process: drop it if the database restarted
        # (not inside a transaction, where closing would lose it: the caller's, or a test's).
        if not connection.in_atomic_block:
            close_old_connections()
        subs = self._subscriptions()
        if not subs:
            return
        pairs = [(s, e) for e in events for s in subs if s.matches(e)]
        if not pairs:
            return
        pairs = _cooldown_pass(pairs)
        deliveries_create(pairs=[(s.id, e) for s, e in pairs])


def deliveries_create(*, pairs: list[tuple[int, Event]]) -> list[int]:
    """One pending delivery per (subscription id, event), queued once committed; returns the new ids.

    Rows that exist already (an event handled twice) are neither created nor queued again.
    """
    if not pairs:
        return []
    subscription_ids = {s for s, _ in pairs}
    event_ids = {e.id for _, e in pairs}
    now = timezone.now()
    with transaction.atomic():
        existing = set(
            WebhookDelivery.objects.filter(subscription_id__in=subscription_ids, event_id__in=event_ids).values_list(
                "subscription_id", "event_id"
            )
        )
        wanted = {(s, e.id): e for s, e in pairs if (s, e.id) not in existing}
        if not wanted:
            return []
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    subscription_id=s,
                    event_id=event.id,
                    event_type=event.type,
                    payload=event.to_json(),
                    next_attempt_at=now,
                )
                for (s, _), event in wanted.items()
            ],
            ignore_conflicts=True,  # a concurrent writer of the same row wins
            batch_size=500,
        )
        # ignore_conflicts leaves primary keys unset: read them back (a row a concurrent writer made
        # is queued twice then, and the second message finds it claimed or done).
        created = [
            pk
            for pk, s, e in WebhookDelivery.objects.filter(
                subscription_id__in=subscription_ids, event_id__in=event_ids
            ).values_list("id", "subscription_id", "event_id")
            if (s, e) in wanted
        ]
        # robust: a broker outage must not undo stored deliveries; the sweep queues them later.
        transaction.on_commit(lambda: deliveries_enqueue(created), robust=True)
    return created


def deliveries_enqueue(delivery_ids: Iterable[int]) -> None:
    from notify.tasks import webhook_deliver

    for pk in delivery_ids:
        webhook_deliver.delay(pk)  # the id only: the task reads URL and secret from the database


def channel() -> WebhookChannel:
    # Always on: with no subscriptions a batch of events costs one cached query every few seconds.
    return WebhookChannel()


# --- Sending (the io workers) --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str
    status_code: int | None = None
    error: str = ""
    retry_in: float | None = None  # seconds until the next attempt, when there is one


def sign(*, secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header: ``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    return Webhook(secret).sign(msg_id=msg_id, timestamp=dt.datetime.fromtimestamp(timestamp, dt.UTC), data=body)


def _session() -> requests.Session:
    # requests-hardened resolves the host once, refuses private, loopback and link-local addresses,
    # and connects to the very address it checked (Host header and TLS name stay the URL's), so a
    # name that resolves differently the second time (DNS rebinding) cannot slip past the check.
    allow_private = settings.CAMTRACK_WEBHOOK_ALLOW_PRIVATE
    session = HTTPSession(
        Config(
            ip_filter_enable=not allow_private,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,  # a redirect is a failure: following it would leave the checked address
            default_timeout=TIMEOUT_S,
            user_agent_override=USER_AGENT,
        )
    )
    # No proxies or .netrc from the environment: the check must be on the address really connected to.
    session.trust_env = False
    return session


def _short_error(exc: BaseException) -> str:
    """A short, fixed-vocabulary reason: exception texts carry URLs and receivers' words, not for storing."""
    if isinstance(exc, requests.ConnectTimeout):
        return "timeout: connect"
    if isinstance(exc, requests.ReadTimeout):
        return "timeout: read"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls error"
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, socket.gaierror):
            return "dns: name not resolved"
        if isinstance(cur, OSError) and cur.errno in errno.errorcode:
            return f"connection failed: {errno.errorcode[cur.errno]}"
        todo += [cur.__cause__, cur.__context__, getattr(cur, "reason", None)]
        todo += [a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return f"request failed: {type(exc).__name__}"


def _post(delivery: WebhookDelivery) -> Outcome:
    sub = delivery.subscription
    body = delivery.payload
    timestamp = int(time.time())  # the real time of this attempt, whatever clock drives the schedule
    try:
        signature = sign(secret=sub.secret, msg_id=delivery.webhook_id, timestamp=timestamp, body=body)
    except (ValueError, EmptyWebhookSecretError):  # binascii.Error too; no text of these holds the secret
        return Outcome(Status.FAILED, error="refused: invalid secret")
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    try:
        with _session() as session:
            # stream: the status line is all we need; a receiver's body is never read or stored.
            response = session.post(sub.url, data=body.encode(), headers=headers, timeout=TIMEOUT_S, stream=True)
            response.close()
    except InvalidIPAddress:
        return Outcome(Status.FAILED, error="refused: private address")
    except requests.exceptions.InvalidURL:
        return Outcome(Status.FAILED, error="refused: invalid URL")
    except requests.RequestException as exc:
        return Outcome(Status.PENDING, error=_short_error(exc))
    except Exception as exc:
        # A bug or an oddity of one URL must still end in the schedule (and a dead letter), not loop.
        logger.warning("webhook %s: %s while sending", delivery.event_id, type(exc).__name__)
        return Outcome(Status.PENDING, error=f"request failed: {type(exc).__name__}")
    if 200 <= response.status_code < 300:
        return Outcome(Status.DELIVERED, status_code=response.status_code)
    error = f"HTTP {response.status_code}"
    if 300 <= response.status_code < 400:
        error += " (redirects are not followed)"
    return Outcome(Status.PENDING, status_code=response.status_code, error=error)


def delivery_attempt(delivery_id: int, *, now: dt.datetime | None = None) -> Outcome | None:
    """Send one due delivery and record how it went; None when it is not due, done, or being sent.

    ``now`` drives the schedule (tests pass a later one instead of waiting); the signature's
    timestamp is always the real time.
    """
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now).update(
        attempts=F("attempts") + 1, next_attempt_at=now + dt.timedelta(seconds=LEASE_S)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    if not delivery.subscription.enabled:
        outcome = Outcome(Status.FAILED, error="subscription disabled")
    else:
        outcome = _post(delivery)
    if outcome.status == Status.PENDING:
        if delivery.attempts >= MAX_ATTEMPTS:
            outcome = Outcome(Status.DEAD, status_code=outcome.status_code, error=outcome.error)
        else:
            retry_in = RETRY_DELAYS_S[delivery.attempts - 1]
            outcome = Outcome(Status.PENDING, outcome.status_code, outcome.error, retry_in=retry_in)
    fields = {
        "status": outcome.status,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:300],
        "next_attempt_at": now + dt.timedelta(seconds=outcome.retry_in) if outcome.retry_in is not None else None,
    }
    if outcome.status == Status.DELIVERED:
        fields["delivered_at"] = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery_id).update(**fields)
    if outcome.status != Status.DELIVERED:
        logger.info(
            "webhook %s to subscription %s: %s after attempt %d",
            delivery.event_id,
            delivery.subscription.name,
            outcome.error,
            delivery.attempts,
        )
    return outcome


def deliveries_overdue(*, now: dt.datetime | None = None, grace_s: float = 300.0, limit: int = 1000) -> list[int]:
    """Pending deliveries whose attempt should have happened more than ``grace_s`` ago.

    Their message was lost (broker down when queued) or their worker died while holding the lease.
    """
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status=Status.PENDING, next_attempt_at__lt=now - dt.timedelta(seconds=grace_s)
        ).values_list("id", flat=True)[:limit]
    )


def deliveries_resend(*, delivery_ids: Iterable[int]) -> int:
    """Failed and dead deliveries back to pending with a fresh schedule, queued once committed."""
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(pk__in=list(delivery_ids), status__in=[Status.FAILED, Status.DEAD])
            .select_for_update()
            .values_list("id", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=Status.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        transaction.on_commit(lambda: deliveries_enqueue(ids), robust=True)
    return len(ids)
