from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devtools.bench.load import LoadBench, format_table, write_outputs


class Command(BaseCommand):
    help = "Load benchmark: simulated HTTP cameras through beat, io and cpu workers into the configured database."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cameras", type=int, default=1000)
        parser.add_argument("--interval", type=float, default=5.0)
        parser.add_argument("--duration", type=float, default=60.0, help="seconds measured at the nominal load")
        parser.add_argument("--steps", default="1", help="load multipliers, e.g. 0.5,1,1.5,2")
        parser.add_argument("--step-duration", type=float, default=20.0, help="seconds measured at other loads")
        parser.add_argument("--warmup", type=float, default=20.0)
        parser.add_argument("--nodes", type=int, default=1, help="io+cpu worker sets, as separate hosts would run")
        parser.add_argument("--sim-port", type=int, default=8599)
        parser.add_argument("--out", default="bench-out")
        parser.add_argument("--scene", default="busy", choices=["busy", "warehouse"], help="what the cameras show")

    def handle(self, *args, **opts) -> None:
        from django.conf import settings
        from django.db import connection
        from kombu import Connection

        if connection.vendor == "sqlite":
            raise CommandError(
                "the load benchmark needs PostgreSQL and Redis: set DATABASE_URL and CELERY_BROKER_URL "
                "(SQLite serialises every write and would measure only itself)"
            )
        try:
            with Connection(settings.CELERY_BROKER_URL, connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1)
        except Exception as exc:
            raise CommandError(f"broker at {settings.CELERY_BROKER_URL} does not answer: {exc}") from None
        bench = LoadBench(
            cameras=opts["cameras"],
            interval=opts["interval"],
            duration=opts["duration"],
            steps=[float(s) for s in opts["steps"].split(",")],
            step_duration=opts["step_duration"],
            nodes=opts["nodes"],
            sim_port=opts["sim_port"],
            warmup=opts["warmup"],
            scene=opts["scene"],
            write=self.stdout.write,
        )
        result = bench.run()
        json_path, png = write_outputs(result, Path(opts["out"]))
        self.stdout.write(format_table(result))
        self.stdout.write(f"wrote {json_path}" + (f" and {png}" if png else ""))
