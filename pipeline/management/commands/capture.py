import json
import time

from django.core.management.base import BaseCommand, CommandError

from cameras.models import Camera
from pipeline.capture_now import capture_now


class Command(BaseCommand):
    help = "Capture and decode one frame of a camera now, outside the queue; recorded like a scheduled one."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts) -> None:
        camera = Camera.objects.filter(name=opts["name"]).first()
        if camera is None:
            raise CommandError(f"no camera named {opts['name']!r}")
        start = time.perf_counter()
        out = capture_now(camera=camera)
        # Capture, decode and recording, without interpreter start-up: what the camera's timeout bounds.
        out["elapsed_ms"] = round((time.perf_counter() - start) * 1000, 1)
        if opts["json"]:
            self.stdout.write(json.dumps(out, ensure_ascii=False))
            return
        if not out["ok"]:
            self.stdout.write(f"{camera.name}: failed after {out['elapsed_ms']} ms: {out['error']}")
            return
        self.stdout.write(
            f"{camera.name}: {len(out['detections'])} codes, capture {out['capture_ms']} ms, "
            f"decode {out['decode_ms']} ms"
        )
        for d in out["detections"]:
            self.stdout.write(f"  {d['format']}: {d['text']}")
