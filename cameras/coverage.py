"""Read side of slot accounting: how the due slots of each camera ended, per hour and in total."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Sum

from cameras.models import SlotHour


@dataclass
class Coverage:
    stored: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # by error class
    skipped: dict[str, int] = field(default_factory=dict)  # by reason

    @property
    def due(self) -> int:
        return self.stored + sum(self.failed.values()) + sum(self.skipped.values())

    @property
    def coverage(self) -> float | None:
        """Share of the due slots that were stored; None when nothing was due."""
        return round(self.stored / self.due, 4) if self.due else None

    def add(self, outcome: str, reason: str, n: int) -> None:
        if outcome == SlotHour.Outcome.STORED:
            self.stored += n
        else:
            bucket = self.failed if outcome == SlotHour.Outcome.FAILED else self.skipped
            bucket[reason] = bucket.get(reason, 0) + n

    def as_dict(self) -> dict:
        return {
            "due": self.due,
            "stored": self.stored,
            "failed": dict(sorted(self.failed.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "coverage": self.coverage,
        }


@dataclass
class CoverageReport:
    total: Coverage
    cameras: dict[str, Coverage]  # by camera name
    hours: dict[str, dict[dt.datetime, Coverage]]  # by camera name, then hour


def hour_floor(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def slot_coverage(
    *,
    since: dt.datetime,
    until: dt.datetime,
    camera_name: str | None = None,
    camera_ids: Iterable[int] | None = None,
) -> CoverageReport:
    """Slots that fell due in the hours from ``since``'s to before ``until``, per camera and hour."""
    rows = SlotHour.objects.filter(hour__gte=hour_floor(since), hour__lt=until)
    if camera_name is not None:
        rows = rows.filter(camera__name=camera_name)
    if camera_ids is not None:
        rows = rows.filter(camera_id__in=list(camera_ids))
    rows = rows.values_list("camera__name", "hour", "outcome", "reason").annotate(n=Sum("slots"))
    total = Coverage()
    cameras: dict[str, Coverage] = defaultdict(Coverage)
    hours: dict[str, dict[dt.datetime, Coverage]] = defaultdict(lambda: defaultdict(Coverage))
    for name, hour, outcome, reason, n in rows:
        total.add(outcome, reason, n)
        cameras[name].add(outcome, reason, n)
        hours[name][hour].add(outcome, reason, n)
    return CoverageReport(total=total, cameras=dict(sorted(cameras.items())), hours=hours)


def coverage_text(cov: Coverage) -> str:
    """One line for a page: "97.5% of 1440 slots stored; failed timeout 10; skipped outage 26"."""
    if not cov.due:
        return "no slots due"
    parts = [f"{cov.coverage * 100:.1f}% of {cov.due} slots stored"]
    for label, counts in (("failed", cov.failed), ("skipped", cov.skipped)):
        if counts:
            parts.append(f"{label} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return "; ".join(parts)
