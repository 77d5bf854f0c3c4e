import os
import signal
import socket

from django.conf import settings
from django.core.management.base import BaseCommand

from pipeline.stream import StreamsProcess


class Command(BaseCommand):
    help = "Hold one RTSP session per stream-mode camera (a share of them, with the other hosts) and serve its slots."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--holder", default=None, help="name in the lease table (default: streams-NODE@host-pid)")

    def handle(self, *args, **opts) -> None:
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
