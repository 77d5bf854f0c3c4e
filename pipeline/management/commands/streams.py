import os
import signal
import socket

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from pipeline.stream import StreamsProcess


class Command(BaseCommand):
    help = "Hold one RTSP session per stream-mode camera (a share of them, with the other hosts) and serve its slots."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--holder", default=None, help="name in the lease table (default: streams-NODE@host-pid)")

    def handle(self, *args, **opts) -> None:
        if connection.vendor == "postgresql":
            # A query never blocks this loop for long (a hung or unreachable database): the leases
            # must be renewed or given up in time. Set before the first query opens the connection.
            options = connection.settings_dict.setdefault("OPTIONS", {})
            options.setdefault("connect_timeout", 5)
            options.setdefault("tcp_user_timeout", 5000)
            options["options"] = f"{options.get('options', '')} -c statement_timeout=5000".strip()
        # The pid too: a restarted process must not mistake its predecessor's leases for its own sessions.
        holder = opts["holder"] or f"streams-{settings.CAMTRACK_NODE}@{socket.gethostname()}-{os.getpid()}"
        process = StreamsProcess(holder=holder)
        stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        self.stdout.write(f"streams: {holder} ready.")
        self.stdout.flush()
        try:
            process.run(stopping)
        except KeyboardInterrupt:
            process.leave()
