import json

from django.core.management.base import BaseCommand

from pipeline.dispatch import camera_dispatch_due


class Command(BaseCommand):
    help = "Run one dispatch round (the beat task's own code path)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts) -> None:
        result = camera_dispatch_due()
        out = {
            "dispatched": result.dispatched,
            "skipped": result.skipped,
            "lost": result.lost,
            "elapsed_ms": round(result.elapsed_ms, 1),
        }
        if opts["json"]:
            self.stdout.write(json.dumps(out))
        else:
            self.stdout.write(f"dispatched {out['dispatched']}, skipped {out['skipped']} in {out['elapsed_ms']} ms")
