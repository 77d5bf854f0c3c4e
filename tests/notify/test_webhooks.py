"""Webhooks end to end against a real HTTP receiver: matching, signing, retries, dead letters, the
private-address rule and the secret kept out of every page, row, message and log."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.signals import before_task_publish
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from kombu import Connection
from rest_framework.test import APIClient

from devtools.net import free_port
from notify import webhooks
from notify.events import Event, client, events_last_id, events_read, events_write
from notify.models import WebhookDelivery, WebhookSubscription
from notify.tasks import webhook_deliver, webhook_sweep
from notify.webhooks import (
    MAX_ATTEMPTS,
    RETRY_DELAYS_S,
    WebhookChannel,
    deliveries_overdue,
    deliveries_resend,
    delivery_attempt,
)

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers 500 ``failures`` times first."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.failures = 0  # answers 500 this many more times (-1: always)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "at": time.time(),
                        }
                    )
                    failing = receiver.failures != 0
                    if receiver.failures > 0:
                        receiver.failures -= 1
                self.send_response(500 if failing else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def clean_redis():
    # Cooldown claims are keyed by subscription id, which a new test database hands out again.
    def clean() -> None:
        keys = list(client().scan_iter(f"{webhooks.COOLDOWN_KEY}*"))
        if keys:
            client().delete(*keys)

    clean()
    yield
    clean()


@pytest.fixture
def loopback(settings):
    settings.CAMTRACK_WEBHOOK_ALLOW_PRIVATE = True
    return settings


@pytest.fixture(autouse=True)
def published(monkeypatch):
    """Every task message the tests publish, (headers, body), kept in memory instead of the broker.

    Other tests of the session may have real io workers running on the broker: they must not pick
    these deliveries up (they refuse loopback receivers, and would race the attempts driven here).
    """
    messages: list[tuple[dict, object]] = []
    memory = Connection("memory://")
    send = webhook_deliver.apply_async

    def apply_async(args=None, kwargs=None, **options):
        return send(args, kwargs, connection=memory, **options)

    def record(body=None, headers=None, **_kwargs) -> None:
        messages.append((headers or {}, body))

    monkeypatch.setattr(webhook_deliver, "apply_async", apply_async)
    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)
    memory.release()


def deliver_messages(published: list) -> list[tuple[dict, list, dict]]:
    """The delivery tasks published: (headers, args, kwargs)."""
    return [(h, list(b[0]), b[1]) for h, b in published if h.get("task") == "notify.tasks.webhook_deliver"]


def write(*events: tuple[str, dict]) -> list[Event]:
    start = events_last_id()
    ids = events_write(list(events))
    assert len(ids) == len(events)
    return events_read(after=start)


def body(code: str = "PKG-1", camera: str = "dock-1", zone: str | None = "dock") -> dict:
    return {"sighting": 1, "camera": camera, "zone": zone, "code": code, "format": "qr", "frames": 1}


def verify(secret: str, request: dict) -> bool:
    """The receiver's check, written from the Standard Webhooks spec with the standard library only."""
    headers = request["headers"]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(sig.split(",", 1)[1], expected)
        for sig in headers["webhook-signature"].split()
        if sig.startswith("v1,")
    )


def subscribe(url: str, **fields: object) -> WebhookSubscription:
    sub = WebhookSubscription(name=fields.pop("name", f"sub-{time.monotonic_ns()}"), url=url, **fields)
    sub.full_clean()
    sub.save()
    return sub


def run_due(now: dt.datetime) -> list:
    """Every delivery due at ``now``, attempted as the io workers would (time driven, not slept)."""
    due = WebhookDelivery.objects.filter(status="pending", next_attempt_at__lte=now).values_list("id", flat=True)
    return [delivery_attempt(pk, now=now) for pk in due]


def test_a_delivery_is_signed_and_sent_once(loopback, receiver, published):
    sub = subscribe(receiver.url())
    assert sub.secret.startswith("whsec_") and len(base64.b64decode(sub.secret[6:])) == 32
    events = write(("sighting.new", body()))
    WebhookChannel().handle(events)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.event_id, delivery.event_type) == ("pending", events[0].id, "sighting.new")
    [(headers, args, kwargs)] = deliver_messages(published)
    assert args == [delivery.pk] and kwargs == {}  # the delivery id is the only argument

    assert webhook_deliver.apply(args=(delivery.pk,)).get() == "delivered"
    [request] = receiver.requests
    assert request["path"] == "/hook"
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["webhook-id"] == f"msg_{events[0].id}"
    assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 30
    assert request["headers"]["webhook-signature"].startswith("v1,")
    assert verify(sub.secret, request)
    assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), request)
    expected = {"id": events[0].id, "type": "sighting.new", "at": events[0].at, **body()}
    assert json.loads(request["body"]) == events[0].as_dict() == expected
    assert request["body"].decode() == delivery.payload

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    # Idempotent: a second message for a delivered one sends nothing.
    assert webhook_deliver.apply(args=(delivery.pk,)).get() is None
    assert delivery_attempt(delivery.pk, now=timezone.now() + dt.timedelta(days=1)) is None
    assert len(receiver.requests) == 1


def test_filters_choose_what_each_subscription_gets(loopback, receiver):
    url = receiver.url()
    subs = {
        "all": subscribe(url, name="all"),
        "ends": subscribe(url, name="ends", event_types="sighting.end"),
        "status": subscribe(url, name="status", event_types="camera.status"),
        "camera": subscribe(url, name="camera", camera="gate-2"),
        "zone": subscribe(url, name="zone", zone="yard"),
        "prefix": subscribe(url, name="prefix", code_prefix="PKG-"),
        "regex": subscribe(url, name="regex", code_regex=r"^PAL-\d{3}$"),
        "both": subscribe(url, name="both", event_types="sighting.new,sighting.end", code_prefix="PAL-", zone="yard"),
        "off": subscribe(url, name="off", enabled=False),
    }
    events = write(
        ("sighting.new", body("PKG-1")),  # 0: dock-1 / dock
        ("sighting.end", body("PKG-1")),  # 1
        ("sighting.new", body("PAL-123", camera="gate-2", zone="yard")),  # 2
        ("sighting.update", body("PAL-1234", camera="gate-2", zone="yard")),  # 3
        ("camera.status", {"camera": "gate-2", "zone": "yard", "status": "offline", "previous": "online"}),  # 4
    )
    WebhookChannel().handle(events)

    got = {name: set() for name in subs}
    for name, event_id in WebhookDelivery.objects.values_list("subscription__name", "event_id"):
        got[name].add([e.id for e in events].index(event_id))
    assert got == {
        "all": {0, 1, 2, 3, 4},
        "ends": {1},
        "status": {4},
        "camera": {2, 3, 4},
        "zone": {2, 3, 4},
        "prefix": {0, 1},
        "regex": {2},  # anchored: PAL-1234 does not match
        "both": {2},
        "off": set(),
    }


def test_cooldown_holds_back_a_code_per_event_type(loopback, receiver, monkeypatch):
    sub = subscribe(receiver.url(), cooldown_s=60)
    other = subscribe(receiver.url(), name="no-cooldown")
    events = write(
        ("sighting.new", body("PKG-1")),  # 0 delivered
        ("sighting.new", body("PKG-1", camera="dock-2")),  # 1 held back: same code, same type
        ("sighting.new", body("PKG-2")),  # 2 another code
        ("sighting.end", body("PKG-1")),  # 3 another type
        ("camera.status", {"camera": "dock-1", "zone": "dock", "status": "online"}),  # 4 no code: no cooldown
        ("camera.status", {"camera": "dock-1", "zone": "dock", "status": "offline"}),  # 5
    )
    channel = WebhookChannel()
    # The first attempt at the batch fails after the cooldowns were claimed (database down, say) ...
    real_create = webhooks.deliveries_create
    monkeypatch.setattr(webhooks, "deliveries_create", lambda **kw: (_ for _ in ()).throw(RuntimeError("db down")))
    with pytest.raises(RuntimeError):
        channel.handle(events)
    # ... and the retried batch is not held back by its own claims.
    monkeypatch.setattr(webhooks, "deliveries_create", real_create)
    channel.handle(events)
    ids = [e.id for e in events]

    def got(s: WebhookSubscription) -> set[int]:
        return {ids.index(e) for e in WebhookDelivery.objects.filter(subscription=s).values_list("event_id", flat=True)}

    assert got(sub) == {0, 2, 3, 4, 5}
    assert got(other) == {0, 1, 2, 3, 4, 5}
    # Still within the cooldown, later: held back; the Redis claim expires with the cooldown.
    WebhookChannel().handle(write(("sighting.new", body("PKG-1", camera="dock-3"))))
    assert got(sub) == {0, 2, 3, 4, 5}
    ttl = client().ttl(next(client().scan_iter(f"{webhooks.COOLDOWN_KEY}{sub.pk}:sighting.new:*")))
    assert 0 < ttl <= 60


def test_an_event_handled_twice_is_delivered_once(loopback, receiver, published):
    subscribe(receiver.url())
    events = write(("sighting.new", body()), ("sighting.end", body()))
    WebhookChannel().handle(events)
    WebhookChannel().handle(events)  # a restarted notify process resumes from an older cursor
    WebhookChannel().handle(events[1:])
    assert WebhookDelivery.objects.count() == 2
    assert len(deliver_messages(published)) == 2  # queued once each
    now = timezone.now()
    run_due(now)
    run_due(now + dt.timedelta(seconds=1))
    assert sorted(r["headers"]["webhook-id"] for r in receiver.requests) == sorted(f"msg_{e.id}" for e in events)


def test_a_failing_receiver_gets_the_same_message_until_it_answers(loopback, receiver, published):
    sub = subscribe(receiver.url())
    receiver.failures = 2
    WebhookChannel().handle(write(("sighting.new", body())))
    delivery = WebhookDelivery.objects.get()
    published.clear()

    # The task's first attempt fails and queues its retry: a new message with a countdown, id only.
    assert webhook_deliver.apply(args=(delivery.pk,)).get() == "pending"
    [(headers, args, kwargs)] = deliver_messages(published)
    assert args == [delivery.pk] and kwargs == {} and headers["eta"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error == "HTTP 500"
    first_due = delivery.next_attempt_at
    assert abs((first_due - timezone.now()).total_seconds() - RETRY_DELAYS_S[0]) < 5

    # Not due yet: nothing is sent.
    assert delivery_attempt(delivery.pk, now=first_due - dt.timedelta(seconds=1)) is None
    assert len(receiver.requests) == 1
    [outcome] = run_due(first_due)
    assert outcome.status == "pending" and outcome.retry_in == RETRY_DELAYS_S[1]
    delivery.refresh_from_db()
    [outcome] = run_due(delivery.next_attempt_at)
    assert outcome.status == "delivered"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered",
        3,
        204,
        "",
    )
    assert len(receiver.requests) == 3
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {f"msg_{delivery.event_id}"}
    assert {r["body"] for r in receiver.requests} == {delivery.payload.encode()}
    assert all(verify(sub.secret, r) for r in receiver.requests)


def test_a_receiver_that_never_answers_2xx_ends_dead_after_an_hour(loopback, receiver):
    subscribe(receiver.url())
    receiver.failures = -1
    WebhookChannel().handle(write(("sighting.end", body())))
    delivery = WebhookDelivery.objects.get()
    start = now = timezone.now()
    waits = []
    while True:
        [outcome] = run_due(now)
        delivery.refresh_from_db()
        if outcome.status != "pending":
            break
        waits.append((delivery.next_attempt_at - now).total_seconds())
        now = delivery.next_attempt_at
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("dead", 500, "HTTP 500")
    assert delivery.attempts == MAX_ATTEMPTS == len(receiver.requests) == 13
    assert delivery.next_attempt_at is None
    assert tuple(waits) == RETRY_DELAYS_S
    assert waits[:4] == [5, 10, 20, 40] and max(waits) == 600
    assert (now - start).total_seconds() >= 3600
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert run_due(now + dt.timedelta(days=1)) == []  # dead letters are not tried again ...

    # ... until an operator re-sends them, with a fresh schedule.
    receiver.failures = 0
    assert deliveries_resend(delivery_ids=[delivery.pk]) == 1
    [outcome] = run_due(timezone.now())
    delivery.refresh_from_db()
    assert (outcome.status, delivery.status, delivery.attempts) == ("delivered", "delivered", 1)
    assert deliveries_resend(delivery_ids=[delivery.pk]) == 0  # a delivered one is not re-sent


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://localhost:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "https://192.168.0.1/hook",
    ],
)
def test_private_addresses_are_refused_unless_allowed(settings, receiver, url):
    settings.CAMTRACK_WEBHOOK_ALLOW_PRIVATE = False
    subscribe(url.format(port=receiver.port))
    WebhookChannel().handle(write(("sighting.new", body())))
    delivery = WebhookDelivery.objects.get()
    started = time.monotonic()
    [outcome] = run_due(timezone.now())
    assert time.monotonic() - started < 2  # refused before any connection, not timed out
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error, delivery.attempts) == ("failed", "refused: private address", 1)
    assert outcome.retry_in is None and delivery.next_attempt_at is None
    assert run_due(timezone.now() + dt.timedelta(days=1)) == []
    assert receiver.requests == []


def test_a_redirect_is_not_followed(loopback):
    # A public-looking receiver that redirects to a private address must not reach it.
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("location", "http://169.254.169.254/")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        subscribe(f"http://127.0.0.1:{server.server_port}/")
        WebhookChannel().handle(write(("sighting.new", body())))
        [outcome] = run_due(timezone.now())
        assert (outcome.status, outcome.status_code) == ("pending", 307)
        assert outcome.error == "HTTP 307 (redirects are not followed)"
    finally:
        server.shutdown()
        server.server_close()


def test_connection_errors_are_short_and_retried(loopback):
    subscribe(f"http://127.0.0.1:{free_port()}/nobody-listens?token=abc")
    WebhookChannel().handle(write(("sighting.new", body())))
    [outcome] = run_due(timezone.now())
    assert outcome.status == "pending" and outcome.retry_in == RETRY_DELAYS_S[0]
    assert WebhookDelivery.objects.get().last_error == "connection failed: ECONNREFUSED"


def test_subscriptions_are_validated():
    good = {"name": "v", "url": "https://hooks.example.com/camtrack"}
    WebhookSubscription(**good).full_clean()
    WebhookSubscription(name="svc", url="http://receiver:8000/hook").full_clean()  # a compose service name
    bad = [
        {"url": "ftp://hooks.example.com/"},
        {"url": "javascript:alert(1)"},
        {"url": "https:///nohost"},
        {"url": "https://user:pw@hooks.example.com/"},
        {"url": "https://hooks.example.com:99999/"},
        {"code_regex": "PKG-("},
        {"event_types": "sighting.new,sighting.nope"},
        {"secret": "not-a-secret"},
        {"secret": "whsec_" + base64.b64encode(b"short").decode()},
        {"secret": "whsec_!!!"},
    ]
    for fields in bad:
        with pytest.raises(ValidationError) as info:
            WebhookSubscription(**{**good, **fields}).full_clean()
        assert set(info.value.message_dict) == set(fields) - {"name"}, fields
        if "secret" in fields:
            assert fields["secret"] not in str(info.value)


def test_channel_is_always_on_and_cheap_without_subscriptions(django_assert_max_num_queries):
    channel = webhooks.channel()
    assert isinstance(channel, WebhookChannel) and channel.name == "webhooks"
    events = write(("sighting.new", body()))
    with django_assert_max_num_queries(1):
        for _ in range(20):
            channel.handle(events)  # the (empty) subscription list is cached
    assert WebhookDelivery.objects.count() == 0


def test_sweep_queues_deliveries_whose_message_was_lost(loopback, receiver, published):
    subscribe(receiver.url())
    WebhookChannel().handle(write(("sighting.new", body()), ("sighting.end", body())))
    lost, fresh = WebhookDelivery.objects.order_by("id")
    WebhookDelivery.objects.filter(pk=lost.pk).update(next_attempt_at=timezone.now() - dt.timedelta(minutes=10))
    published.clear()
    assert deliveries_overdue() == [lost.pk]
    assert webhook_sweep() == 1
    assert [args for _, args, _ in deliver_messages(published)] == [[lost.pk]]


def test_api_subscriptions_operators_write_and_secret_shown_once(loopback, receiver):
    staff = User.objects.create_user("staff", password="pw")
    staff.groups.add(Group.objects.get(name="operator"))
    viewer = User.objects.create_user("viewer", password="pw")
    viewer.groups.add(Group.objects.get(name="viewer"))
    api, ro = APIClient(), APIClient()
    api.force_authenticate(staff)
    ro.force_authenticate(viewer)
    new = {"name": "api", "url": receiver.url(), "event_types": ["sighting.new"], "code_prefix": "PKG-"}

    assert ro.post("/api/webhooks/", new, format="json").status_code == 403
    assert APIClient().get("/api/webhooks/").status_code in (401, 403)
    resp = api.post("/api/webhooks/", new, format="json")
    assert resp.status_code == 201, resp.content
    created = resp.json()
    sub = WebhookSubscription.objects.get(pk=created["id"])
    assert created["secret"] == sub.secret and created["event_types"] == ["sighting.new"]
    assert sub.event_types == "sighting.new"

    listed = ro.get("/api/webhooks/")
    assert listed.status_code == 200 and sub.secret not in listed.content.decode()
    assert "secret" not in listed.json()["results"][0]
    detail = ro.get(f"/api/webhooks/{sub.pk}/")
    assert detail.json()["url"] == receiver.url() and sub.secret not in detail.content.decode()

    chosen = "whsec_" + base64.b64encode(b"k" * 24).decode()
    resp = api.patch(f"/api/webhooks/{sub.pk}/", {"secret": chosen, "enabled": False}, format="json")
    assert resp.status_code == 200 and chosen not in resp.content.decode() and "secret" not in resp.json()
    sub.refresh_from_db()
    assert sub.secret == chosen and not sub.enabled
    assert ro.patch(f"/api/webhooks/{sub.pk}/", {"enabled": True}, format="json").status_code == 403

    bad = api.post("/api/webhooks/", {**new, "name": "bad", "secret": "whsec_abc", "code_regex": "("}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"secret", "code_regex"}
    assert "whsec_abc" not in bad.content.decode()
    assert api.post("/api/webhooks/", {**new, "name": "b", "url": "ftp://x.example/"}, format="json").status_code == 400
    bad_type = api.post("/api/webhooks/", {**new, "name": "c", "event_types": ["nope"]}, format="json")
    assert bad_type.status_code == 400

    api.patch(f"/api/webhooks/{sub.pk}/", {"enabled": True}, format="json")
    WebhookChannel().handle(write(("sighting.new", body("PKG-9")), ("sighting.new", body("XYZ"))))
    run_due(timezone.now())
    resp = ro.get(f"/api/webhooks/{sub.pk}/deliveries/")
    assert resp.status_code == 200
    [row] = resp.json()["results"]
    assert row["status"] == "delivered" and row["payload"]["code"] == "PKG-9" and "secret" not in json.dumps(row)
    assert api.delete(f"/api/webhooks/{sub.pk}/").status_code == 204
    assert not WebhookDelivery.objects.exists()


def test_admin_pages_resend_and_the_secret_kept_out_of_everything(settings, receiver, published, caplog):
    caplog.set_level(logging.DEBUG)
    settings.CAMTRACK_WEBHOOK_ALLOW_PRIVATE = True
    admin = User.objects.create_superuser("root", password="root-pw")
    web = Client()
    web.force_login(admin)

    # Created in the admin with the secret left empty: generated and shown once, in the next page only.
    form = {"name": "adm", "url": receiver.url(), "secret": "", "enabled": "on", "event_types": "", "cooldown_s": "0"}
    resp = web.post("/admin/notify/webhooksubscription/add/", form, follow=True)
    assert resp.status_code == 200
    sub = WebhookSubscription.objects.get(name="adm")
    assert sub.secret.startswith("whsec_") and resp.content.decode().count(sub.secret) == 1
    secrets = [sub.secret]

    # Changed with the secret left empty: kept.
    resp = web.post(f"/admin/notify/webhooksubscription/{sub.pk}/change/", {**form, "zone": ""}, follow=True)
    assert resp.status_code == 200 and sub.secret not in resp.content.decode()
    sub.refresh_from_db()
    assert sub.secret == secrets[0]

    # Rotated: a new one, shown once.
    resp = web.post(
        "/admin/notify/webhooksubscription/",
        {"action": "rotate_secret", "_selected_action": [sub.pk]},
        follow=True,
    )
    sub.refresh_from_db()
    assert sub.secret != secrets[0] and resp.content.decode().count(sub.secret) == 1
    secrets.append(sub.secret)

    # Deliveries of every kind, so every column of the rows has something in it.
    receiver.failures = -1
    WebhookChannel().handle(write(("sighting.new", body()), ("sighting.end", body()), ("camera.status", {})))
    first, second, third = WebhookDelivery.objects.order_by("id")
    now = timezone.now()
    while WebhookDelivery.objects.filter(pk=first.pk, status="pending").exists():
        delivery_attempt(first.pk, now=now)
        now += dt.timedelta(hours=1)
    settings.CAMTRACK_WEBHOOK_ALLOW_PRIVATE = False
    delivery_attempt(second.pk)
    settings.CAMTRACK_WEBHOOK_ALLOW_PRIVATE = True
    receiver.failures = 0
    delivery_attempt(third.pk)
    assert list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True)) == [
        "dead",
        "failed",
        "delivered",
    ]

    texts: dict[str, str] = {}
    pages = [
        "/admin/notify/webhooksubscription/",
        "/admin/notify/webhooksubscription/add/",
        f"/admin/notify/webhooksubscription/{sub.pk}/change/",
        f"/admin/notify/webhooksubscription/{sub.pk}/delete/",
        f"/admin/notify/webhooksubscription/{sub.pk}/history/",
        "/admin/notify/webhookdelivery/",
        "/admin/notify/webhookdelivery/?status__exact=dead",
        f"/admin/notify/webhookdelivery/?q={first.event_id}",
        f"/admin/notify/webhookdelivery/?subscription__id__exact={sub.pk}",
        *(f"/admin/notify/webhookdelivery/{d.pk}/change/" for d in (first, second, third)),
    ]
    for path in pages:
        resp = web.get(path)
        assert resp.status_code == 200, path
        texts[f"page {path}"] = resp.content.decode()
    assert "refused: private address" in texts["page /admin/notify/webhookdelivery/"]
    assert 'type="password"' in texts[f"page /admin/notify/webhooksubscription/{sub.pk}/change/"]
    api = APIClient()
    api.force_authenticate(admin)
    for path in ["/api/webhooks/", f"/api/webhooks/{sub.pk}/", f"/api/webhooks/{sub.pk}/deliveries/"]:
        texts[f"api {path}"] = api.get(path).content.decode()

    # Re-send from the admin: the dead and the failed one go back to pending and are queued again.
    start = len(published)
    resp = web.post(
        "/admin/notify/webhookdelivery/",
        {"action": "resend", "_selected_action": [first.pk, second.pk, third.pk]},
        follow=True,
    )
    assert resp.status_code == 200 and "2 deliveries queued again" in resp.content.decode()
    assert sorted(args[0] for _, args, _ in deliver_messages(published[start:])) == [first.pk, second.pk]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending", "delivered"}
    run_due(timezone.now())
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}

    for field in ["payload", "last_error", "event_id", "event_type"]:
        texts[f"WebhookDelivery.{field}"] = "\n".join(map(str, WebhookDelivery.objects.values_list(field, flat=True)))
    texts["task messages"] = json.dumps(published, default=repr)
    texts["log"] = caplog.text
    assert all(verify(sub.secret, r) for r in receiver.requests[-2:])
    leaks = [f"{where}" for where, text in texts.items() for s in secrets if s in text or s[6:] in text]
    assert leaks == []
