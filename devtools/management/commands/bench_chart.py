from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from devtools.bench.scenes import scenes_chart


class Command(BaseCommand):
    help = "Chart several bench runs (bench.json files) side by side: CPU per snapshot per process type."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("runs", nargs="+", type=Path, help="bench.json files written by manage.py bench")
        parser.add_argument("--out", type=Path, default=Path("bench-out/scenes.png"))

    def handle(self, *args: object, **opts: object) -> None:
        self.stdout.write(f"wrote {scenes_chart(opts['runs'], opts['out'])}")
