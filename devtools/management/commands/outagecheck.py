from django.core.management.base import BaseCommand, CommandParser

from devtools import outagecheck


class Command(BaseCommand):
    help = (
        "Outage acceptance over one run on a PostgreSQL and a Redis of its own: PostgreSQL stopped, Redis "
        "restarted, io and cpu processes SIGKILLed, beat SIGKILLed; recovery times, slot accounting, metrics."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cameras", type=int, default=200)
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument("--pg-outage", type=float, default=60.0, help="seconds PostgreSQL stays down")
        parser.add_argument(
            "--wait", type=float, default=0.0, help="seconds to wait before counting (the visibility timeout)"
        )

    def handle(self, *args: object, **opts: object) -> None:
        report = outagecheck.run(
            cameras=opts["cameras"],
            interval_s=opts["interval"],
            pg_outage_s=opts["pg_outage"],
            wait_s=opts["wait"],
            write=self.stdout.write,
        )
        self.stdout.write(outagecheck.format_report(report))
        if not report.passed:
            raise SystemExit(1)
