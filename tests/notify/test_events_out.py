"""Events out, end to end: parcels cross simulated cameras while the Procfile's processes (beat, io,
cpu, notify, web) announce them over server-sent events, MQTT and signed webhooks, through a
receiver outage, a broker outage, a client that goes away, and a camera whose server stops."""

import datetime as dt
import json
import os
import random
import sys
import threading
import time

import pytest

from cameras.models import Snapshot
from cameras.services import camera_upsert, zone_for
from devtools.bench import procs
from devtools.net import free_port
from devtools.simulator import Simulator
from notify.events import CURSOR_KEY, client
from notify.models import AlertRule, WebhookSubscription
from tests.notify.test_mqtt import Mosquitto, Subscriber
from tests.notify.test_webhooks import Receiver, verify
from tests.test_pipeline import wait_for
from tests.tracking.test_journeys import IN_VIEW_S, INTERVAL_S, plan, play
from tests.web.conftest import web  # noqa: F401  (fixture)
from tests.web.test_sse import Listener, token  # noqa: F401  (fixture)
from tests.workers import purge_queues

pytestmark = pytest.mark.django_db(transaction=True)
CAMERAS = 40


class TimedSubscriber(Subscriber):
    """Also notes when each message arrived."""

    def __init__(self, *args, **kwargs) -> None:
        self.arrived: dict[str, float] = {}
        super().__init__(*args, **kwargs)

    def _on_message(self, client, userdata, msg) -> None:
        self.arrived.setdefault(json.loads(msg.payload)["id"], time.time())
        super()._on_message(client, userdata, msg)


def _ts(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_every_channel_gets_every_sighting_through_outages(celery_workers, web, token, tmp_path):  # noqa: F811
    purge_queues()
    for name in ("mqtt", "webhooks", "alerts"):
        client().delete(CURSOR_KEY + name)
    names = [f"eo-{i:02d}" for i in range(CAMERAS)]
    sim = Simulator(port=0, cameras=names).start()
    for i, name in enumerate(names):
        sim.set_payload(name, "")
        camera_upsert(name=name, url=sim.url(name), interval_s=INTERVAL_S, timeout_s=INTERVAL_S, zone=f"zone-{i % 8}")
    # One more camera, on a server of its own that will be stopped for a while.
    lone_port = free_port()
    lone = Simulator(port=lone_port, cameras=["eo-lone"]).start()
    lone.set_payload("eo-lone", "")
    camera_upsert(name="eo-lone", url=lone.url("eo-lone"), interval_s=INTERVAL_S, timeout_s=1.0, zone="lone")
    AlertRule.objects.create(
        name="lone down", kind="camera_offline", camera_id=None, zone=zone_for(name="lone"), seconds=10
    )
    AlertRule.objects.create(
        name="0 to 1", kind="expected_route", zone=zone_for(name="zone-0"), to_zone=zone_for(name="zone-1"), seconds=20
    )
    receiver = Receiver()
    receiver.failures = -1  # 500 for the first 30 s
    hook = WebhookSubscription(name="everything", url=receiver.url())
    hook.full_clean()
    hook.save()
    broker = Mosquitto(tmp_path, free_port()).start()
    prefix = f"camtrack-eo-{os.getpid()}"
    mqtt_sub = TimedSubscriber([f"{prefix}/events"], port=broker.port, persistent=True)
    parcels = plan(random.Random(11), names)
    env = {
        **os.environ,
        "DATABASE_URL": celery_workers["io"].env["DATABASE_URL"],
        "CELERY_BROKER_URL": celery_workers["io"].env["CELERY_BROKER_URL"],
        "CAMTRACK_DATA_DIR": str(tmp_path),
        "CAMTRACK_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
        "CAMTRACK_MQTT_TOPIC_PREFIX": prefix,
        "CAMTRACK_WEBHOOK_ALLOW_PRIVATE": "true",
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
    }
    lines = procs.procfile_lines()
    running = {n: procs.start(n, lines[n], env) for n in ("beat", "notify")}
    sse = Listener(f"{web}/api/events/stream?token={token}&types=sighting.new,sighting.end,alert.raised,alert.cleared")
    sse_seen: dict[str, tuple[float, dict]] = {}
    truth: dict = {}
    stop = threading.Event()
    t0 = time.time() + 4.0
    player = threading.Thread(target=play, args=(sim, parcels, t0, truth, stop), daemon=True)
    player.start()
    end = t0 + max(o for _, visits in parcels for _, o in visits) + IN_VIEW_S

    def collect(listener: Listener, until: float) -> None:
        while time.time() < until:
            for e in listener.take(1000, timeout=0.2):
                sse_seen.setdefault(e["id"], (time.time(), json.loads(e["data"])))

    try:
        threading.Timer(max(0.0, t0 + 30 - time.time()), lambda: setattr(receiver, "failures", 0)).start()
        collect(sse, t0 + 5)
        lone.stop()  # the lone camera's server goes away for 25 s
        collect(sse, t0 + 20)
        broker.save()
        broker.kill()  # MQTT broker down for 20 s
        collect(sse, t0 + 25)
        last_id = max(sse_seen)
        sse.close()  # the SSE client is away for 10 s
        time.sleep(max(0.0, t0 + 30 - time.time()))
        lone = Simulator(port=lone_port, cameras=["eo-lone"]).start()
        lone.set_payload("eo-lone", "")
        time.sleep(max(0.0, t0 + 35 - time.time()))
        sse = Listener(
            f"{web}/api/events/stream?token={token}&types=sighting.new,sighting.end,alert.raised,alert.cleared",
            headers={"Last-Event-ID": last_id},
        )
        collect(sse, t0 + 40)
        broker.start()
        collect(sse, end + 20)  # departures, ends (gap 5 s) and the receiver's retries
        player.join(5)
        before = Snapshot.objects.filter(
            status="ok",
            camera__name__in=names,
            scheduled_at__gte=dt.datetime.fromtimestamp(t0, dt.UTC),
            scheduled_at__lt=dt.datetime.fromtimestamp(t0 + 20, dt.UTC),
        ).count()
        during = Snapshot.objects.filter(
            status="ok",
            camera__name__in=names,
            scheduled_at__gte=dt.datetime.fromtimestamp(t0 + 20, dt.UTC),
            scheduled_at__lt=dt.datetime.fromtimestamp(t0 + 40, dt.UTC),
        ).count()
        visits = {(code, camera) for code, route in parcels for camera, _ in route}

        def webhooks_complete() -> bool:
            got = {
                (json.loads(r["body"])["type"], json.loads(r["body"]).get("code"), json.loads(r["body"]).get("camera"))
                for r in receiver.requests
            }
            return all(("sighting.new", c, cam) in got and ("sighting.end", c, cam) in got for c, cam in visits)

        assert wait_for(webhooks_complete, timeout=120), "webhook deliveries missing"
        assert wait_for(lambda: len(set(mqtt_sub.event_ids(f"{prefix}/events"))) >= len(sse_seen), timeout=60)
        collect(sse, time.time() + 2)
    finally:
        stop.set()
        for p in running.values():
            procs.stop(p)
        sse.close()
        mqtt_sub.close()
        broker.kill()
        receiver.stop()
        sim.stop()
        lone.stop()

    gap = 5.0
    problems = []
    # SSE: every visit's new and end, each event once (the reconnect replayed what was missed).
    by_visit: dict[tuple[str, str, str], list[tuple[float, dict]]] = {}
    for _, (at, body) in sse_seen.items():
        by_visit.setdefault((body["type"], body.get("code"), body.get("camera")), []).append((at, body))
    sse_latency = []
    for code, camera in visits:
        new, ended = by_visit.get(("sighting.new", code, camera), []), by_visit.get(("sighting.end", code, camera), [])
        if len(new) != 1 or len(ended) != 1:
            problems.append(f"SSE {code}@{camera}: {len(new)} new, {len(ended)} end")
            continue
        arrival, departure = truth[(code, camera)]
        first = _ts(new[0][1]["first_seen"])
        if not (t0 + 24 < first < t0 + 36):  # the client was away then: those came late by design
            sse_latency.append(new[0][0] - first)
        away = t0 + 24 < departure + gap < t0 + 36  # due while the client was away: replayed on its return
        if not away and ended[0][0] - departure > gap + 5:
            problems.append(f"SSE end of {code}@{camera} {ended[0][0] - departure:.1f} s after departure")
    sse_latency.sort()
    p95 = sse_latency[int(0.95 * (len(sse_latency) - 1))]
    assert p95 <= 1.5, f"sighting.new over SSE p95 {p95:.2f} s"
    # MQTT: everything, including what was written while the broker was down.
    mqtt_events = [json.loads(m) for m in mqtt_sub.on(f"{prefix}/events")]
    mqtt_keys = {(e["type"], e.get("code"), e.get("camera")) for e in mqtt_events}
    for code, camera in visits:
        for kind in ("sighting.new", "sighting.end"):
            if (kind, code, camera) not in mqtt_keys:
                problems.append(f"MQTT lacks {kind} {code}@{camera}")
    # Latency of sighting.new on MQTT and webhooks too, outside their deliberate outages.
    mqtt_latency = sorted(
        mqtt_sub.arrived[e["id"]] - _ts(e["first_seen"])
        for e in mqtt_events
        if e["type"] == "sighting.new"
        and e["id"] in mqtt_sub.arrived
        and not (t0 + 19 < _ts(e["first_seen"]) < t0 + 41)
    )
    first_try = {}
    for r in receiver.requests:
        first_try.setdefault(r["headers"]["webhook-id"], (r["at"], json.loads(r["body"])))
    hook_latency = sorted(
        at - _ts(b["first_seen"])
        for at, b in first_try.values()
        if b["type"] == "sighting.new" and _ts(b["first_seen"]) > t0 + 31
    )
    mqtt_p95 = mqtt_latency[int(0.95 * (len(mqtt_latency) - 1))]
    hook_p95 = hook_latency[int(0.95 * (len(hook_latency) - 1))]
    assert mqtt_p95 <= 1.5 and hook_p95 <= 1.5, (mqtt_p95, hook_p95)
    # Webhooks: signed with the subscription's secret, one webhook-id per event on every attempt.
    hook.refresh_from_db()
    ids_by_event: dict[str, set[str]] = {}
    for r in receiver.requests:
        assert verify(hook.secret, r), "a webhook signature does not verify"
        ids_by_event.setdefault(json.loads(r["body"])["id"], set()).add(r["headers"]["webhook-id"])
    assert all(len(v) == 1 for v in ids_by_event.values())
    assert any(
        len([r for r in receiver.requests if r["headers"]["webhook-id"] == i]) > 1
        for v in ids_by_event.values()
        for i in v
    )
    # A down broker costs nothing.
    assert during >= 0.95 * before, (before, during)
    # Alerts: the lone camera went offline and came back; routes 0 -> 1 missed by exactly these parcels.
    alerts = [b for _, b in sse_seen.values() if b["type"].startswith("alert.")]
    lone_alerts = [(b["type"], _ts(b["at"])) for b in alerts if b.get("camera") == "eo-lone"]
    assert [k for k, _ in lone_alerts] == ["alert.raised", "alert.cleared"], lone_alerts
    # ... on every channel.
    hooked = [json.loads(r["body"]) for r in receiver.requests]
    for channel, got in (("MQTT", mqtt_events), ("webhooks", hooked)):
        kinds = {e["type"] for e in got if e["type"].startswith("alert.") and e.get("camera") == "eo-lone"}
        assert kinds == {"alert.raised", "alert.cleared"}, (channel, kinds)
    assert lone_alerts[0][1] - (t0 + 5) <= 10 + 3 * INTERVAL_S + 5, lone_alerts
    zone_of = {n: f"zone-{i % 8}" for i, n in enumerate(names)}
    expect_lost = set()
    for code, route in parcels:
        for i, (camera, offset) in enumerate(route):
            if zone_of[camera] == "zone-0" and not any(
                zone_of[c] == "zone-1" and 0 <= o - offset <= 20 for c, o in route[i + 1 :]
            ):
                expect_lost.add(code)
    raised = {b["code"] for b in alerts if b["type"] == "alert.raised" and b["rule"] == "0 to 1"}
    assert raised == expect_lost, sorted(raised ^ expect_lost)
    assert not problems, "\n".join(problems[:30])
    print(
        f"SSE sighting.new latency p50 {sse_latency[len(sse_latency) // 2]:.3f} s p95 {p95:.3f} s; "
        f"MQTT p95 {mqtt_p95:.3f} s; webhooks p95 {hook_p95:.3f} s; "
        f"snapshots before/during the MQTT outage {before}/{during}; webhook requests {len(receiver.requests)}"
    )
