import base64
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from detections.decoders import ENGINES, DecodeError, DecodeResult, check_formats, decode_bytes


def result_json(name: str, result: DecodeResult) -> dict:
    return {
        "file": name,
        "detections": [code.as_dict() for code in result.codes],
        "ms": round(result.ms, 2),
        "width": result.width,
        "height": result.height,
        "passes": result.passes,
    }


def parse_roi(value: str | None) -> tuple[int, int, int, int] | None:
    if not value:
        return None
    try:
        x, y, w, h = (int(v) for v in value.split(","))
    except ValueError:
        raise CommandError(f"--roi wants x,y,w,h in pixels, not {value!r}")
    return x, y, w, h


class Command(BaseCommand):
    help = "Decode QR codes and barcodes in image files: one line per file (JSON with --json)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument("--engine", choices=ENGINES, default=None, help="default: CAMTRACK_DEFAULT_ENGINE")
        parser.add_argument("--formats", default="qr", help="comma-separated, e.g. qr,code128 (default qr)")
        parser.add_argument("--roi", default=None, help="x,y,w,h: decode only this region")

    def handle(self, *args, **opts) -> None:
        engine = opts["engine"] or getattr(settings, "CAMTRACK_DEFAULT_ENGINE", "zxing")
        try:
            formats = check_formats([f.strip() for f in opts["formats"].split(",") if f.strip()])
        except DecodeError as exc:
            raise CommandError(str(exc))  # a bad argument: the only non-zero exit
        roi = parse_roi(opts["roi"])
        for name in opts["files"]:
            out = self._one(name, formats=formats, engine=engine, roi=roi)
            self.stdout.write(json.dumps(out, ensure_ascii=False) if opts["json"] else self._line(out))

    def _one(self, name: str, *, formats: list[str], engine: str, roi: tuple[int, int, int, int] | None) -> dict:
        try:
            data = Path(name).read_bytes()
            return result_json(name, decode_bytes(data, formats=formats, engine=engine, roi=roi))
        except OSError as exc:
            return {"file": name, "error": f"unreadable: {exc.strerror or exc}"}
        except DecodeError as exc:
            return {"file": name, "error": str(exc)}

    @staticmethod
    def _line(out: dict) -> str:
        if "error" in out:
            return f"{out['file']}: error: {out['error']}"
        found = "; ".join(
            f"{d['format']} {d['text']!r}" + (f" (raw {len(base64.b64decode(d['raw']))} bytes)" if "raw" in d else "")
            for d in out["detections"]
        )
        return f"{out['file']}: {len(out['detections'])} code(s) in {out['ms']} ms" + (f": {found}" if found else "")
