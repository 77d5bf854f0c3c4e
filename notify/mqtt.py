"""The MQTT channel: every event on ``<prefix>/events``, each camera's status retained on
``<prefix>/cameras/<name>/status``, and ``<prefix>/available`` (``online``/``offline``, retained,
``offline`` also as the last will).

Only the notify process publishes, from the Runner's thread for this channel, so a slow or absent
broker delays nothing but this channel. paho's own network thread keeps the connection and reconnects
by itself; ``handle`` returns only once the broker acknowledged every message (QoS 1) and raises
otherwise, so the Runner hands the same events again later: at-least-once, nothing lost while the
broker is down, an event possibly twice after an outage.

Credentials travel in the URL and never leave this module: logs and exceptions name the broker by
scheme, host and port only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notify.channels import Channel
from notify.events import Event

logger = logging.getLogger(__name__)

SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}
QOS = 1
# Messages published before waiting for their acknowledgements: one round trip per this many.
WINDOW = 100


class MqttUnavailable(RuntimeError):
    """The broker is not connected or did not acknowledge in time; the Runner retries the events."""


@dataclass(frozen=True, repr=False)
class Broker:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    safe_url: str  # scheme://host:port, what logs and exceptions show

    def __repr__(self) -> str:
        # A dataclass repr would print the password (in a traceback's locals, a debugger, a log line).
        return f"Broker({self.safe_url})"


def parse_url(url: str) -> Broker:
    """Split ``mqtt[s]://user:pass@host:port``. Errors never quote the URL: it may hold a password."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("CAMTRACK_MQTT_URL is not a valid URL") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ImproperlyConfigured("CAMTRACK_MQTT_URL must look like mqtt://[user:pass@]host[:port] or mqtts://...")
    tls, default_port = SCHEMES[parts.scheme]
    port = port or default_port
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    return Broker(
        host=host,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        safe_url=f"{parts.scheme}://{shown}:{port}",
    )


def topic_segment(name: str) -> str:
    """A camera name as one topic level: '/' would add levels and '+', '#' are wildcards a publish refuses."""
    cleaned = "".join("_" if c in "/+#\0" else c for c in name)
    return cleaned or "_"


class MqttChannel(Channel):
    name = "mqtt"

    # How long handle() waits for a (re)connection, and for each acknowledgement, before it gives
    # the events back to the Runner. Class attributes so that tests can shorten them.
    connect_wait_s: float = 5.0
    ack_timeout_s: float = 5.0
    keepalive_s: int = 30

    def __init__(self) -> None:
        self.broker = parse_url(settings.CAMTRACK_MQTT_URL)
        self.prefix = settings.CAMTRACK_MQTT_TOPIC_PREFIX.strip().rstrip("/") or "camtrack"
        self.client_id = settings.CAMTRACK_MQTT_CLIENT_ID
        self.tls_ca = settings.CAMTRACK_MQTT_TLS_CA or None
        self.tls_insecure = settings.CAMTRACK_MQTT_TLS_INSECURE
        self.events_topic = f"{self.prefix}/events"
        self.available_topic = f"{self.prefix}/available"
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._problem = ""  # the last connection problem, for the exception handle() raises
        self._stopping = False
        # Events of the batch being retried that the broker already acknowledged: not sent twice.
        self._acked: set[str] = set()

    def __repr__(self) -> str:
        return f"<MqttChannel {self.broker.safe_url} {self.prefix}/>"

    def status_topic(self, camera: str) -> str:
        return f"{self.prefix}/cameras/{topic_segment(camera)}/status"

    # --- lifecycle (the Runner's thread) ------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(ca_certs=self.tls_ca, cert_reqs=ssl.CERT_NONE if self.tls_insecure else ssl.CERT_REQUIRED)
        # The broker says "offline" for us if we vanish without a clean disconnect.
        client.will_set(self.available_topic, "offline", qos=QOS, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=5)  # back within seconds of the broker
        # No paho-side limit (handle() keeps WINDOW in flight itself): paho counts in-flight messages
        # and does not uncount those drop_out_messages() forgets, so with a limit a few timed-out
        # batches would leave every later publish queued, never sent, on a healthy connection.
        client.max_inflight_messages_set(0)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        # Asynchronous: start() never blocks on a broker that is down; paho's thread keeps trying.
        client.connect_async(self.broker.host, self.broker.port, keepalive=self.keepalive_s)
        client.loop_start()
        self._client = client
        logger.info("mqtt: connecting to %s as %s, topics %s/", self.broker.safe_url, self.client_id, self.prefix)

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        self._stopping = True
        try:
            if client.is_connected() and not self._say_offline(client):
                # No acknowledgement: close without DISCONNECT, so the broker publishes the will
                # ("offline") rather than keep "online" for a client that is gone.
                sock = client.socket()
                if sock is not None:
                    with contextlib.suppress(OSError):  # already closed: the will fires all the same
                        sock.shutdown(socket.SHUT_RDWR)
            client.disconnect()
        finally:
            client.loop_stop()
            self._connected.clear()
        logger.info("mqtt: disconnected from %s", self.broker.safe_url)

    def _say_offline(self, client: mqtt.Client) -> bool:
        info = client.publish(self.available_topic, "offline", qos=QOS, retain=True)
        try:
            info.wait_for_publish(self.ack_timeout_s)
            return info.is_published()
        except (RuntimeError, ValueError):
            return False

    # --- events (the Runner's thread) ---------------------------------------------------------

    def handle(self, events: list[Event]) -> None:
        client = self._client
        if client is None:
            raise MqttUnavailable(f"{self.broker.safe_url}: not started")
        # A short wait covers the first events after start() and brief reconnects without a
        # Runner backoff; anything longer goes back to the Runner.
        if not self._connected.wait(self.connect_wait_s):
            raise MqttUnavailable(f"{self.broker.safe_url}: not connected ({self._problem or 'connecting'})")
        todo = deque((event, self.messages(event)) for event in events if event.id not in self._acked)
        try:
            while todo:
                # Up to WINDOW messages out, then their acknowledgements: pipelined, not one round
                # trip per message, and never more in flight than a broker is likely to allow.
                window: list[tuple[Event, list[mqtt.MQTTMessageInfo]]] = []
                count = 0
                while todo and (not window or count + len(todo[0][1]) <= WINDOW):
                    event, messages = todo.popleft()
                    infos = [client.publish(topic, body, qos=QOS, retain=retain) for topic, body, retain in messages]
                    window.append((event, infos))
                    count += len(infos)
                for event, infos in window:
                    for info in infos:
                        self._wait_ack(info)
                    self._acked.add(event.id)
        except MqttUnavailable:
            # paho would send its unacknowledged copies again on reconnecting, on top of the
            # Runner's retry of the same events: forget them here, the retry sends what is missing.
            client.drop_out_messages()
            raise
        self._acked.clear()

    def messages(self, event: Event) -> list[tuple[str, str, bool]]:
        """(topic, payload, retain) for one event."""
        out = [(self.events_topic, event.to_json(), False)]
        camera = event.body.get("camera")
        if event.type == "camera.status" and camera:
            status = {k: event.body.get(k) for k in ("status", "previous", "reason", "since")}
            out.append((self.status_topic(str(camera)), json.dumps(status, separators=(",", ":"), default=str), True))
        return out

    def _wait_ack(self, info: mqtt.MQTTMessageInfo) -> None:
        try:
            info.wait_for_publish(self.ack_timeout_s)
            if info.is_published():
                return
        except (RuntimeError, ValueError) as exc:
            # paho's own text (e.g. "The client is not currently connected."), never our URL.
            raise MqttUnavailable(f"{self.broker.safe_url}: publish failed: {exc}") from None
        raise MqttUnavailable(f"{self.broker.safe_url}: no acknowledgement within {self.ack_timeout_s:g} s")

    # --- paho callbacks (paho's network thread: never block here) -----------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._report(f"refused: {reason}")
            return
        self._problem = ""
        # Retained, so that a dashboard subscribing later still sees it; the will replaces it.
        client.publish(self.available_topic, "online", qos=QOS, retain=True)
        self._connected.set()
        logger.info("mqtt: connected to %s", self.broker.safe_url)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._report("unreachable")

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags, reason: Any, properties: Any
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and not self._stopping:
            self._report(f"connection lost: {reason}")

    def _report(self, problem: str) -> None:
        # Once per kind of problem at WARNING: a broker down for hours would otherwise log every retry.
        level = logging.DEBUG if problem == self._problem else logging.WARNING
        self._problem = problem
        logger.log(level, "mqtt: %s %s; paho retries by itself", self.broker.safe_url, problem)


def channel() -> Channel | None:
    """The MQTT channel when CAMTRACK_MQTT_URL is set (see notify/registry.py)."""
    if not settings.CAMTRACK_MQTT_URL:
        return None
    return MqttChannel()
