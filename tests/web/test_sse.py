"""The event stream served by the real web process (the Procfile's line: gunicorn + uvicorn, ASGI)."""

import queue
import threading
import time
import uuid

import pytest
import requests
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from notify.events import events_write

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token():
    return Token.objects.create(user=User.objects.create_user(f"sse-{uuid.uuid4().hex[:6]}", password="pw")).key


class Listener:
    """Reads a text/event-stream in a thread: events (id, type, data) and comment lines."""

    def __init__(self, url: str, **kwargs) -> None:
        self.response = requests.get(url, stream=True, timeout=(3, 30), **kwargs)
        self.events: queue.Queue = queue.Queue()
        self.comments: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        current: dict[str, str] = {}
        try:
            for line in self.response.iter_lines(chunk_size=1, decode_unicode=True):
                if line.startswith(":"):
                    self.comments.append(line)
                elif not line:
                    if "data" in current:
                        self.events.put(dict(current))
                    current = {}
                else:
                    key, _, value = line.partition(": ")
                    current[key] = value
        except (requests.RequestException, AttributeError, ValueError):
            pass

    def take(self, n: int, timeout: float = 10.0) -> list[dict]:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            try:
                out.append(self.events.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        self.response.close()


def _sighting(code: str, camera: str = "dock-cam", zone: str = "dock") -> tuple[str, dict]:
    return ("sighting.new", {"camera": camera, "zone": zone, "code": code})


def test_stream_needs_credentials(web):
    assert requests.get(f"{web}/api/events/stream", timeout=5).status_code == 401
    assert requests.get(f"{web}/api/events/stream?token=nope", timeout=5).status_code == 401


def test_live_events_arrive_filtered_with_heartbeats(web, token):
    everything = Listener(f"{web}/api/events/stream", headers={"Authorization": f"Token {token}"})
    only_sorter = Listener(f"{web}/api/events/stream?token={token}&zone=sorter&types=sighting.new")
    time.sleep(1.0)  # both streams are open and positioned at the newest event
    codes = [f"SSE-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    ids = events_write(
        [
            _sighting(codes[0]),
            _sighting(codes[1], "sorter-cam", "sorter"),
            ("camera.status", {"camera": "x", "zone": "sorter"}),
        ]
    )
    events_write([_sighting(codes[2])])
    got = everything.take(4)
    assert [e["id"] for e in got] == ids + [got[3]["id"]] and got[3]["event"] == "sighting.new"
    assert codes[1] in got[1]["data"] and got[2]["event"] == "camera.status"
    sorter = only_sorter.take(1)
    assert [e["id"] for e in sorter] == [ids[1]] and only_sorter.take(1, timeout=1.5) == []
    assert any("heartbeat" in c for c in everything.comments)
    everything.close()
    only_sorter.close()


def test_a_client_back_from_an_absence_gets_what_it_missed_once(web, token):
    first = Listener(f"{web}/api/events/stream?token={token}")
    time.sleep(1.0)
    before = events_write([_sighting(f"A-{i}") for i in range(2)])
    seen = first.take(2)
    assert [e["id"] for e in seen] == before
    first.close()
    missed = events_write([_sighting(f"B-{i}") for i in range(5)])  # while the client is away
    back = Listener(f"{web}/api/events/stream?token={token}", headers={"Last-Event-ID": seen[-1]["id"]})
    later = events_write([_sighting("C-0")])
    got = back.take(6)
    assert [e["id"] for e in got] == missed + later  # every missed one, each once, in order
    assert back.take(1, timeout=1.0) == []
    back.close()
    assert requests.get(f"{web}/api/events/stream?token={token}&since_id=yesterday", timeout=5).status_code == 400
