"""Bulk camera import from CSV (the import_cameras command and POST /api/cameras/import/): each row goes
through camera_upsert, so it is validated like a camera saved in the admin; good rows are kept, bad ones
reported by line number."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

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


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rows: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, camera name, why)


def cameras_import_csv(*, text: str, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Create or update cameras by name from CSV text (header: name,url,interval_s, then any of OPTIONAL).

    Raises ValidationError when the header lacks a required column; a bad row is reported, not raised.
    """
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    header = set(rows[0].keys()) if rows else set()
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationError(f"CSV header lacks: {', '.join(missing)}")
    report = ImportReport(rows=len(rows))
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        name = (row.get("name") or "").strip()
        try:
            if not name:
                raise ValidationError("name is empty")
            _, was_created = camera_upsert(name=name, **_row_fields(row))
        except ValidationError as exc:
            report.errors.append((i, name or "?", "; ".join(exc.messages)))
        else:
            report.created += was_created
            report.updated += not was_created
        if progress is not None:
            progress(i - 1, len(rows))
    return report
