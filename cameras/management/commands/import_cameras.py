import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cameras.imports import OPTIONAL, cameras_import_csv


class Command(BaseCommand):
    help = "Import cameras from a CSV file (header: name,url,interval_s, then any of " + ",".join(OPTIONAL) + ")."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, *args, **opts) -> None:
        try:
            with open(opts["file"], newline="", encoding="utf-8-sig") as fh:
                text = fh.read()
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from None
        try:
            report = cameras_import_csv(text=text, progress=self._progress)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write("")
        for line, name, why in report.errors:
            self.stderr.write(f"line {line}: {name}: {why}")
        self.stdout.write(
            f"{report.created} created, {report.updated} updated, {len(report.errors)} rejected, {report.rows} rows"
        )

    def _progress(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() and done != total:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
