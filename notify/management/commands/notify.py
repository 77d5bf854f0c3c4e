import signal
import time

from django.core.management.base import BaseCommand

from notify.channels import Runner


def enabled_channels() -> list:
    """The channels this deployment has configured."""
    from notify import registry

    return registry.channels()


class Command(BaseCommand):
    help = "Follow the event log and hand each event to every configured channel (MQTT, webhooks, alerts)."

    def handle(self, *args, **opts) -> None:
        channels = enabled_channels()
        runner = Runner(channels).start()
        self.stdout.write(f"notify: {', '.join(c.name for c in channels) or 'no channels'} ready", ending="\n")
        self.stdout.flush()
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        try:
            while not stopping:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        runner.stop()
