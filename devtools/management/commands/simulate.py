from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from devtools.simulator import FAULTS, Simulator, add_arguments, from_options, serve


class Command(BaseCommand):
    help = "Serve simulated HTTP cameras (QR codes, faults) until Ctrl-C; --register adds them as cameras."

    def add_arguments(self, parser) -> None:
        add_arguments(parser)
        parser.add_argument("--register", action="store_true", help="create or update a camera per simulated one")
        parser.add_argument("--faults", action="store_true", help="with --register: also one camera per fault mode")
        parser.add_argument("--kind", choices=["jpg", "mjpg"], default="jpg", help="snapshot or MJPEG URLs")
        parser.add_argument("--interval", type=float, default=5.0, help="capture interval of registered cameras")
        parser.add_argument("--timeout", type=float, default=5.0, help="capture timeout of registered cameras")

    def handle(self, *args, **opts) -> None:
        sim = from_options(opts)
        if opts["register"]:
            try:
                self._register(sim, opts)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
        serve(sim, self.stdout.write)

    def _register(self, sim: Simulator, opts: dict) -> None:
        from cameras.services import camera_upsert  # needs the app registry, unlike the simulator

        common = {"interval_s": opts["interval"], "timeout_s": opts["timeout"], "formats": "qr", "enabled": True}
        # The simulator binds its port when constructed, so even --port 0 gives URLs that work now;
        # a fixed port keeps them working across restarts.
        entries = [(name, sim.url(name, opts["kind"]), "", "") for name in sim.names]
        if opts["faults"]:
            # Fault cameras carry the right credentials, so auth/digest ones succeed and the rest fail their way.
            entries += [
                (f"{opts['prefix']}-fault-{mode}", sim.fault_url(mode), sim.username, sim.password) for mode in FAULTS
            ]
        for name, url, username, password in entries:
            camera, created = camera_upsert(name=name, url=url, username=username, password=password, **common)
            self.stdout.write(f"{'added' if created else 'updated'} camera {camera.name} ({camera.url})")
