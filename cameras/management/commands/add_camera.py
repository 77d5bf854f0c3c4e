from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cameras.services import camera_upsert


class Command(BaseCommand):
    help = "Add a camera, or update the one with this name."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--url", required=True, help="rtsp://, http(s):// or file:// URL")
        parser.add_argument("--interval", type=float, default=None, help="seconds between captures (>= 0.5)")
        parser.add_argument("--timeout", type=float, default=None, help="seconds a capture may take")
        parser.add_argument("--username", default=None)
        parser.add_argument("--password", default=None)
        parser.add_argument("--formats", default=None, help="comma list, e.g. qr,code128")
        parser.add_argument("--roi", default=None, help="x,y,width,height: decode only this region")
        parser.add_argument(
            "--downscale",
            type=int,
            default=None,
            choices=[1, 2, 4, 8],
            help="decode at 1/N size (codes that are large in the frame)",
        )
        parser.add_argument("--engine", default=None, choices=["zxing", "zbar"])
        parser.add_argument("--transport", default=None, choices=["tcp", "udp"], help="RTSP transport")
        parser.add_argument(
            "--mode",
            default=None,
            choices=["snapshot", "stream"],
            help="stream: one held RTSP session (default for rtsp://); snapshot: a connection per capture",
        )
        parser.add_argument("--zone", default=None, help="the place this camera watches, e.g. dock-3 ('' for none)")
        parser.add_argument("--gap", type=float, default=None, help="seconds unseen before a sighting ends")
        parser.add_argument("--disabled", action="store_true")
        parser.add_argument(
            "--no-gate", action="store_true", help="decode every frame, even one whose picture has not changed"
        )

    def handle(self, *args, **opts) -> None:
        try:
            camera, created = camera_upsert(
                name=opts["name"],
                url=opts["url"],
                interval_s=opts["interval"],
                timeout_s=opts["timeout"],
                username=opts["username"],
                password=opts["password"],
                formats=opts["formats"],
                roi=opts["roi"],
                downscale=opts["downscale"],
                engine=opts["engine"],
                transport=opts["transport"],
                mode=opts["mode"],
                zone=opts["zone"],
                sighting_gap_s=opts["gap"],
                enabled=not opts["disabled"],
                change_gate=False if opts["no_gate"] else None,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"{'added' if created else 'updated'} camera {camera.name} ({camera.url})")
