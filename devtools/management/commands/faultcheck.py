import json

from django.core.management.base import BaseCommand, CommandError

from devtools.faultcheck import format_report, run


class Command(BaseCommand):
    help = (
        "Acceptance run: 5 healthy and 10 faulty cameras on real beat/io/cpu/web processes; "
        "checks rates, error classes, the capture deadline and that no password leaks. Exit 1 on failure."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--duration", type=float, default=45.0, help="seconds the cameras run")
        parser.add_argument("--io-threads", type=int, default=4, help="io worker threads")
        parser.add_argument("--interval", type=float, default=1.0, help="capture interval of every camera")
        parser.add_argument("--timeout", type=float, default=2.0, help="capture timeout of every camera")
        parser.add_argument("--prefix", default="faultcheck", help="camera name prefix (its cameras are replaced)")
        parser.add_argument("--keep", action="store_true", help="keep the cameras and their snapshots afterwards")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts) -> None:
        def say(line: str) -> None:
            if not opts["json"]:
                self.stdout.write(line)

        report = run(
            duration_s=opts["duration"],
            io_threads=opts["io_threads"],
            interval_s=opts["interval"],
            timeout_s=opts["timeout"],
            prefix=opts["prefix"],
            keep=opts["keep"],
            write=say,
        )
        self.stdout.write(json.dumps(report.as_dict(), indent=2) if opts["json"] else format_report(report))
        if not report.passed:
            raise CommandError(f"{len(report.failures)} criteria failed")
