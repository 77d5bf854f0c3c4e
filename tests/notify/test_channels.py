import time

import pytest
from django.db import connection

from cameras.models import Camera
from notify.channels import Channel, Runner
from notify.events import CURSOR_KEY, client, events_last_id, events_write

pytestmark = pytest.mark.django_db(transaction=True)


class Counting(Channel):
    """Reads the database for every batch, as the alert and webhook channels do."""

    name = "test-counting"

    def __init__(self) -> None:
        self.handled = 0
        self.backends: list[int] = []

    def handle(self, events) -> None:
        Camera.objects.count()
        self.backends.append(connection.connection.get_backend_pid())
        self.handled += len(events)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="terminates a PostgreSQL backend")
def test_a_channel_carries_on_after_its_database_connection_dies():
    client().set(CURSOR_KEY + Counting.name, events_last_id())
    channel = Counting()
    runner = Runner([channel]).start()
    try:
        events_write([("camera.status", {"camera": "a"})])
        deadline = time.monotonic() + 10
        while channel.handled < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert channel.handled == 1
        with connection.cursor() as cursor:  # what a PostgreSQL restart does to every connection
            cursor.execute("SELECT pg_terminate_backend(%s)", [channel.backends[-1]])
        events_write([("camera.status", {"camera": "b"})])
        deadline = time.monotonic() + 15
        while channel.handled < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert channel.handled == 2, runner.stats[Counting.name]
        assert channel.backends[-1] != channel.backends[0]
    finally:
        runner.stop()
        client().delete(CURSOR_KEY + Counting.name)
