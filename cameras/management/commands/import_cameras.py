import csv
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cameras.services import camera_upsert

REQUIRED = ("name", "url", "interval_s")
OPTIONAL = (
    "timeout_s",
    "username",
    "password",
    "formats",
    "enabled",
    "engine",
    "transport",
    "mode",
    "roi",
    "downscale",
    "zone",
    "sighting_gap_s",
    "change_gate",
)
TRUE = {"1", "true", "yes", "y", "on"}
FALSE = {"0", "false", "no", "n", "off"}


def _row_fields(row: dict) -> dict:
    fields: dict = {"url": row["url"].strip()}
    for key in ("interval_s", "timeout_s", "sighting_gap_s"):
        value = (row.get(key) or "").strip()
        if value:
            try:
                fields[key] = float(value)
            except ValueError:
                raise ValidationError(f"{key} is not a number: {value!r}") from None
    downscale = (row.get("downscale") or "").strip()
    if downscale:
        if downscale not in ("1", "2", "4", "8"):
            raise ValidationError(f"downscale must be 1, 2, 4 or 8, not {downscale!r}")
        fields["downscale"] = int(downscale)
    for key in ("username", "password", "formats", "engine", "transport", "mode", "roi", "zone"):
        value = row.get(key)
        if value is not None and value.strip():
            fields[key] = value.strip()
    for key in ("enabled", "change_gate"):
        value = (row.get(key) or "").strip().lower()
        if value:
            if value not in TRUE | FALSE:
                raise ValidationError(f"{key} must be true or false, not {value!r}")
            fields[key] = value in TRUE
    return fields


class Command(BaseCommand):
    help = "Import cameras from a CSV file (header: name,url,interval_s, then any of " + ",".join(OPTIONAL) + ")."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, *args, **opts) -> None:
        try:
            fh = open(opts["file"], newline="", encoding="utf-8-sig")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from None
        with fh:
            rows = list(csv.DictReader(fh))
            header = set(rows[0].keys()) if rows else set()
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise CommandError(f"CSV header lacks: {', '.join(missing)}")
        created = updated = 0
        errors: list[str] = []
        total = len(rows)
        for i, row in enumerate(rows, start=2):  # line 1 is the header
            name = (row.get("name") or "").strip()
            try:
                if not name:
                    raise ValidationError("name is empty")
                _, was_created = camera_upsert(name=name, **_row_fields(row))
            except ValidationError as exc:
                errors.append(f"line {i}: {name or '?'}: {'; '.join(exc.messages)}")
            else:
                created += was_created
                updated += not was_created
            self._progress(i - 1, total)
        self.stderr.write("")
        for line in errors:
            self.stderr.write(line)
        self.stdout.write(f"{created} created, {updated} updated, {len(errors)} rejected, {total} rows")

    def _progress(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() and done != total:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
