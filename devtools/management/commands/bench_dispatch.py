import json
import os
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from cameras.models import Camera
from devtools.bench.procs import ROOT

PREFIX = "dispatchbench-"


def _round(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "dispatch_due", "--json"], env=env, stdout=subprocess.PIPE, text=True
    )


class Command(BaseCommand):
    help = (
        "Seeds N due cameras and times `manage.py dispatch_due --json` on them: one round, then two racing "
        "rounds. No worker may consume the io queue meanwhile; the queued captures are purged afterwards."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cameras", type=int, default=10_000)

    def handle(self, *args, **opts) -> None:
        from camtrack.celery import app

        n = opts["cameras"]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "camtrack.settings"}
        others = Camera.objects.exclude(name__startswith=PREFIX).filter(enabled=True).count()
        if others:
            self.stderr.write(f"note: {others} other enabled cameras may be due too and will be counted")
        results = {}
        try:
            for label, rounds in (("one round", 1), ("two racing rounds", 2)):
                self._seed(n)
                app.control.purge()
                procs = [_round(env) for _ in range(rounds)]
                outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
                results[label] = outs
                total = sum(o["dispatched"] for o in outs)
                times = ", ".join(f"{o['elapsed_ms']} ms" for o in outs)
                self.stdout.write(f"{label}: dispatched {total} of {n} due cameras; elapsed {times}")
        finally:
            Camera.objects.filter(name__startswith=PREFIX).delete()
            app.control.purge()
        self.stdout.write(json.dumps({"cameras": n, "broker": settings.CELERY_BROKER_URL.split(":")[0], **results}))

    def _seed(self, n: int) -> None:
        Camera.objects.filter(name__startswith=PREFIX).delete()
        now = time.time()
        Camera.objects.bulk_create(
            [
                Camera(
                    name=f"{PREFIX}{i:05d}",
                    url=f"http://127.0.0.1:9/{i}.jpg",
                    interval_s=60,
                    timeout_s=5,
                    next_run_at=now - (i % 50) / 100,
                    status="online",
                )
                for i in range(n)
            ],
            batch_size=2000,
        )
