"""The MQTT channel against real Mosquitto brokers: the one on 127.0.0.1:1883, and brokers of its own
on free ports for outages and refusals. Each test publishes under a topic prefix of its own."""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings as django_settings

from notify import mqtt as notify_mqtt
from notify.channels import Runner
from notify.events import CURSOR_KEY, client, cursor_set, events_last_id, events_read, events_write
from notify.mqtt import MqttChannel, MqttUnavailable, parse_url, topic_segment
from tests.workers import Worker

HOST = "127.0.0.1"
PORT = 1883


def _listening(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# CI starts Mosquitto (.ci/run), so there a missing broker is a failure, not a skip.
needs_broker = pytest.mark.skipif(
    not _listening(PORT) and not os.environ.get("CI"),
    reason=f"no MQTT broker on {HOST}:{PORT} (start one: mosquitto -d -c /etc/mosquitto/mosquitto.conf)",
)
needs_mosquitto = pytest.mark.skipif(
    shutil.which("mosquitto") is None and not os.environ.get("CI"),
    reason="no mosquitto binary (Debian package mosquitto) to start brokers of the test's own",
)


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Subscriber:
    """A plain paho client that records what it receives. ``persistent``: a fixed client id and a
    session the broker keeps (and queues QoS 1 messages for) while this client is away."""

    def __init__(self, topics: list[str], *, port: int = PORT, persistent: bool = False) -> None:
        self.topics = topics
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"test-sub-{uuid.uuid4().hex[:12]}",
            clean_session=not persistent,
        )
        self.messages: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.connect_async(HOST, port, keepalive=10)
        self.client.loop_start()
        assert self._subscribed.wait(10), f"subscriber could not subscribe on {HOST}:{port}"

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not reason.is_failure:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload.decode(), bool(msg.retain)))

    def on(self, topic: str) -> list[str]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def last(self, topic: str) -> str | None:
        got = self.on(topic)
        return got[-1] if got else None

    def retained(self, topic: str) -> list[str]:
        with self._lock:
            return [payload for t, payload, retain in self.messages if t == topic and retain]

    def event_ids(self, topic: str) -> list[str]:
        return [json.loads(p)["id"] for p in self.on(topic)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Mosquitto:
    """A broker of the test's own on ``port``, that it can kill (SIGKILL: no goodbye to anyone) and
    start again. Sessions and retained messages persist in ``folder`` across a restart."""

    def __init__(self, folder: Path, port: int, *, password_file: Path | None = None) -> None:
        self.folder = folder
        self.port = port
        self.conf = folder / f"mosquitto-{port}.conf"
        self.db = folder / "mosquitto.db"
        lines = [
            f"listener {port} {HOST}",
            *(
                [f"password_file {password_file}", "allow_anonymous false"]
                if password_file
                else ["allow_anonymous true"]
            ),
            "persistence true",
            f"persistence_location {folder}/",
            # As root Mosquitto would drop to user mosquitto, who may not write in pytest's tmp_path.
            f"user {getpass.getuser()}",
        ]
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        log = (self.folder / f"mosquitto-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        assert wait_until(lambda: _listening(self.port), 10), self.log()
        return self

    def save(self) -> None:
        """Have the broker write its sessions to disk now (SIGUSR1), so they outlive a SIGKILL."""
        assert self.proc is not None
        since = time.time() - 0.01
        self.proc.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: self.db.exists() and self.db.stat().st_mtime >= since, 10), self.log()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        assert wait_until(lambda: not _listening(self.port), 5)

    def log(self) -> str:
        path = self.folder / f"mosquitto-{self.port}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture
def prefix(settings) -> Iterator[str]:
    """A topic prefix, client id and cursor of this test's own; retained topics are cleared after."""
    value = f"camtrack-test-{uuid.uuid4().hex[:12]}"
    settings.CAMTRACK_MQTT_TOPIC_PREFIX = value
    settings.CAMTRACK_MQTT_CLIENT_ID = f"{value}-notify"
    settings.CAMTRACK_MQTT_URL = f"mqtt://{HOST}:{PORT}"
    # The channel resumes from its cursor in Redis: start at the end of the log, not at a previous test's.
    cursor_set(channel=MqttChannel.name, event_id=events_last_id())
    yield value
    client().delete(CURSOR_KEY + MqttChannel.name)
    if _listening(PORT):
        _clear_retained(value)


def _clear_retained(value: str) -> None:
    # The shared broker persists retained messages: leave none behind from this test's prefix.
    seen = Subscriber([f"{value}/#"])
    time.sleep(0.3)
    topics = {t for t, _, retain in seen.messages if retain}
    for topic in topics:
        seen.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    seen.close()


def write(event_type: str, body: dict[str, Any]) -> str:
    ids = events_write([(event_type, body)])
    assert ids, "the event log (Redis) refused the event"
    return ids[0]


def sighting(n: int, camera: str = "dock-1") -> dict[str, Any]:
    return {
        "sighting": n,
        "camera": camera,
        "zone": "inbound",
        "code": f"PARCEL-{n}",
        "format": "qr",
        "first_seen": "2025-01-01T00:00:00Z",
        "last_seen": "2025-01-01T00:00:01Z",
        "ended_at": None,
        "frames": 2,
    }


def status(camera: str, new: str, old: str, reason: str = "") -> dict[str, Any]:
    return {
        "camera": camera,
        "zone": "inbound",
        "status": new,
        "previous": old,
        "reason": reason,
        "since": "2025-01-01T00:00:02Z",
    }


def json_by_id(after: str, ids: list[str]) -> dict[str, str]:
    """What the channel must publish for these events: Event.to_json() as read from the log."""
    wanted = set(ids)
    return {e.id: e.to_json() for e in events_read(after=after, count=10_000) if e.id in wanted}


# --- no broker needed ---------------------------------------------------------------------------


def test_channel_is_off_without_url(settings) -> None:
    settings.CAMTRACK_MQTT_URL = ""
    assert notify_mqtt.channel() is None
    settings.CAMTRACK_MQTT_URL = "mqtt://broker.example:1884"
    made = notify_mqtt.channel()
    assert isinstance(made, MqttChannel) and made.name == "mqtt"


def test_url_parts_and_topic_names() -> None:
    b = parse_url("mqtts://svc%40camtrack:p%3Ass@broker.example")
    assert (b.host, b.port, b.tls, b.username, b.password) == ("broker.example", 8883, True, "svc@camtrack", "p:ss")
    assert b.safe_url == "mqtts://broker.example:8883"
    assert "p:ss" not in repr(b)
    assert parse_url("mqtt://[::1]:1999").safe_url == "mqtt://[::1]:1999"
    assert parse_url("mqtt://h").port == 1883 and parse_url("mqtt://h").username is None
    for bad in ("http://user:secret@h", "mqtt://user:secret@h:notaport", "mqtt://"):
        with pytest.raises(Exception) as err:
            parse_url(bad)
        assert "secret" not in str(err.value)
    assert topic_segment("dock/1 #2+") == "dock_1 _2_"
    assert topic_segment("") == "_"


# --- the shared broker on 1883 ------------------------------------------------------------------


@needs_broker
def test_every_event_goes_to_the_events_topic_as_its_json(prefix: str) -> None:
    sub = Subscriber([f"{prefix}/#"])
    runner = Runner([MqttChannel()]).start()
    try:
        assert wait_until(lambda: sub.last(f"{prefix}/available") == "online", 10), sub.messages
        before = events_last_id()
        ids = [write("sighting.new", sighting(1))]
        ids += events_write(
            [("sighting.update", sighting(1)), ("sighting.end", sighting(1)), ("sighting.new", sighting(2))]
        )
        ids.append(write("camera.status", status("dock-1", "offline", "online", "timeout")))
        expected = json_by_id(before, ids)
        assert len(expected) == 5

        topic = f"{prefix}/events"
        assert wait_until(lambda: set(ids) <= set(sub.event_ids(topic)), 15), (sub.messages, runner.stats)
        got = sub.on(topic)
        assert [json.loads(p)["id"] for p in got] == ids, "once each, in the order written"
        assert got == [expected[i] for i in ids]
        assert [json.loads(p)["type"] for p in got] == [
            "sighting.new",
            "sighting.update",
            "sighting.end",
            "sighting.new",
            "camera.status",
        ]
        assert json.loads(got[0])["code"] == "PARCEL-1"
        assert all(not retain for t, _, retain in sub.messages if t == topic), "events are not retained"
        assert wait_until(lambda: runner.stats["mqtt"].position == ids[-1], 5), "the cursor moves once acknowledged"

        # More than one window of messages in a batch: still each once, in order.
        bulk = events_write([("sighting.update", sighting(n)) for n in range(250)])
        assert wait_until(lambda: set(bulk) <= set(sub.event_ids(topic)), 20), runner.stats
        assert sub.event_ids(topic) == ids + bulk
    finally:
        runner.stop()
    assert wait_until(lambda: sub.last(f"{prefix}/available") == "offline", 10), sub.messages
    sub.close()


@needs_broker
def test_camera_status_is_retained_per_camera(prefix: str) -> None:
    runner = Runner([MqttChannel()]).start()
    try:
        write("camera.status", status("dock-1", "offline", "online", "timeout"))
        write("camera.status", status("dock/2", "degraded", "online", "slow"))
        last = write("camera.status", status("dock-1", "online", "offline"))
        assert wait_until(lambda: runner.stats["mqtt"].position == last, 15), runner.stats

        # A subscriber that comes after the fact gets each camera's latest status, retained.
        late = Subscriber([f"{prefix}/cameras/+/status", f"{prefix}/available"])
        assert wait_until(lambda: len(late.retained(f"{prefix}/cameras/dock_2/status")) == 1, 5), late.messages
        assert wait_until(lambda: late.retained(f"{prefix}/cameras/dock-1/status"), 5), late.messages
        assert json.loads(late.retained(f"{prefix}/cameras/dock-1/status")[-1]) == {
            "status": "online",
            "previous": "offline",
            "reason": "",
            "since": "2025-01-01T00:00:02Z",
        }
        assert json.loads(late.retained(f"{prefix}/cameras/dock_2/status")[0])["status"] == "degraded"
        assert late.retained(f"{prefix}/available") == ["online"]
        late.close()
    finally:
        runner.stop()
    after = Subscriber([f"{prefix}/available"])
    assert wait_until(lambda: after.retained(f"{prefix}/available") == ["offline"], 5), after.messages
    after.close()


@needs_broker
def test_the_notify_process_publishes_and_its_will_says_offline(prefix: str) -> None:
    env = {
        "CAMTRACK_MQTT_URL": f"mqtt://{HOST}:{PORT}",
        "CAMTRACK_MQTT_TOPIC_PREFIX": prefix,
        "CAMTRACK_EVENTS_URL": django_settings.CAMTRACK_EVENTS_URL,
    }
    sub = Subscriber([f"{prefix}/#"])
    available = f"{prefix}/available"
    # Killed outright: no clean disconnect, so the broker publishes the last will.
    notify = Worker("notify", env)
    try:
        assert wait_until(lambda: sub.last(available) == "online", 30), notify.output()[-3000:]
        first = write("sighting.new", sighting(7))
        assert wait_until(lambda: first in sub.event_ids(f"{prefix}/events"), 15), notify.output()[-3000:]
        os.killpg(notify.proc.pid, signal.SIGKILL)
        notify.proc.wait(10)
        assert wait_until(lambda: sub.last(available) == "offline", 10), sub.messages
    finally:
        notify.stop()

    # Stopped with SIGTERM (as honcho or systemd stop it): it says "offline" itself, then disconnects.
    notify = Worker("notify", env)
    try:
        assert wait_until(lambda: sub.last(available) == "online", 30), notify.output()[-3000:]
        assert re.search(r"^notify: .*\bmqtt\b.* ready$", notify.output(), re.M), notify.output()[-3000:]
        second = write("sighting.end", sighting(7))
        assert wait_until(lambda: second in sub.event_ids(f"{prefix}/events"), 15), notify.output()[-3000:]
        os.killpg(notify.proc.pid, signal.SIGTERM)
        assert notify.proc.wait(20) == 0, notify.output()[-3000:]
        assert wait_until(lambda: sub.last(available) == "offline", 10), sub.messages
    finally:
        notify.stop()
    sub.close()


# --- brokers of the test's own ------------------------------------------------------------------


@needs_mosquitto
def test_events_written_while_the_broker_is_down_arrive_when_it_is_back(prefix: str, settings, tmp_path) -> None:
    broker = Mosquitto(tmp_path, free_port()).start()
    settings.CAMTRACK_MQTT_URL = f"mqtt://{HOST}:{broker.port}"
    topic = f"{prefix}/events"
    # A persistent session: the broker queues for it what is published while it is away.
    sub = Subscriber([topic], port=broker.port, persistent=True)
    broker.save()
    runner = Runner([MqttChannel()]).start()
    stop_writing = threading.Event()
    outage: list[str] = []
    try:
        before = events_last_id()
        up = events_write([("sighting.new", sighting(n)) for n in range(5)])
        assert wait_until(lambda: set(up) <= set(sub.event_ids(topic)), 15), (sub.messages, runner.stats)

        broker.kill()

        def keep_writing() -> None:
            n = 100
            while not stop_writing.is_set():
                outage.extend(events_write([("sighting.update", sighting(n))]))
                n += 1
                stop_writing.wait(0.2)

        writer = threading.Thread(target=keep_writing, daemon=True)
        writer.start()
        time.sleep(4)
        assert wait_until(lambda: runner.stats["mqtt"].failures >= 1, 10), "the channel noticed the outage"
        assert not set(outage) & set(sub.event_ids(topic)), "nothing can arrive while the broker is down"
        broker.start()
        time.sleep(1)
        stop_writing.set()
        writer.join(5)
        assert len(outage) >= 15
        after = events_write([("sighting.end", sighting(n)) for n in range(3)])

        wanted = up + outage + after
        assert wait_until(lambda: set(wanted) <= set(sub.event_ids(topic)), 60), (
            sorted(set(wanted) - set(sub.event_ids(topic))),
            runner.stats,
            broker.log(),
        )
        expected = json_by_id(before, wanted)
        for payload in sub.on(topic):
            assert payload == expected[json.loads(payload)["id"]]
    finally:
        stop_writing.set()
        runner.stop()
        sub.close()
        broker.kill()


@needs_mosquitto
def test_a_broker_that_stops_answering_gets_the_same_events_again(prefix: str, settings, tmp_path) -> None:
    broker = Mosquitto(tmp_path, free_port()).start()
    settings.CAMTRACK_MQTT_URL = f"mqtt://{HOST}:{broker.port}"
    topic = f"{prefix}/events"
    sub = Subscriber([topic], port=broker.port)
    channel = MqttChannel()
    channel.ack_timeout_s = 1.0
    runner = Runner([channel]).start()
    assert broker.proc is not None
    try:
        before = events_last_id()
        first = write("sighting.new", sighting(1))
        assert wait_until(lambda: first in sub.event_ids(topic), 15), runner.stats
        # Frozen, not gone: the connection stays up but no PUBACK comes back.
        broker.proc.send_signal(signal.SIGSTOP)
        frozen = events_write([("sighting.update", sighting(n)) for n in range(60)])
        # Several attempts time out, each with the whole batch in flight: none may wedge the client.
        assert wait_until(lambda: runner.stats["mqtt"].failures >= 3, 20), runner.stats
        assert "no acknowledgement" in runner.stats["mqtt"].last_error, runner.stats
        assert runner.stats["mqtt"].position == first, "unacknowledged events are not passed"
        broker.proc.send_signal(signal.SIGCONT)
        assert wait_until(lambda: set(frozen) <= set(sub.event_ids(topic)), 30), (runner.stats, broker.log())
        assert wait_until(lambda: runner.stats["mqtt"].position == frozen[-1], 15), runner.stats
        expected = json_by_id(before, [first, *frozen])
        assert all(p == expected[json.loads(p)["id"]] for p in sub.on(topic))
    finally:
        if broker.proc.poll() is None:
            broker.proc.send_signal(signal.SIGCONT)
        runner.stop()
        sub.close()
        broker.kill()


PASSWORD = "Pa55-w0rd-never-logged"
USERNAME = "camtrack-user-never-logged"


@needs_mosquitto
@pytest.mark.parametrize("how", ["refused", "unreachable"])
def test_credentials_never_appear_in_logs_or_errors(how: str, prefix: str, settings, tmp_path, caplog) -> None:
    port = free_port()
    broker = None
    if how == "refused":
        passwd = tmp_path / "passwd"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), USERNAME, "another-password"], check=True)
        broker = Mosquitto(tmp_path, port, password_file=passwd).start()
    settings.CAMTRACK_MQTT_URL = f"mqtt://{USERNAME}:{PASSWORD}@{HOST}:{port}"
    caplog.set_level(logging.DEBUG)
    channel = MqttChannel()
    channel.connect_wait_s = 0.5
    runner = Runner([channel])
    runner.BACKOFF_S = (0.2,)
    before = events_last_id()
    try:
        write("sighting.new", sighting(9))
        runner.start()
        assert wait_until(lambda: runner.stats["mqtt"].failures >= 2, 20), runner.stats
        # What the Runner gets when it hands the events over (and logs, and keeps in its stats).
        with pytest.raises(MqttUnavailable) as err:
            channel.handle(events_read(after=before))
    finally:
        runner.stop()
        if broker is not None:
            broker.kill()
    seen = caplog.text + "\n" + runner.stats["mqtt"].last_error + "\n" + str(err.value) + "\n" + repr(channel)
    assert PASSWORD not in seen and USERNAME not in seen
    assert f"mqtt://{HOST}:{port}" in seen, "the broker is named, without its credentials"
    assert ("refused" if how == "refused" else "unreachable") in caplog.text
    assert runner.stats["mqtt"].handled == 0, "nothing counts as delivered"
