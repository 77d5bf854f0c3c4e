import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from detections.decoders import ENGINES, FORMATS, bench


def _right_pct(s: dict) -> float:
    """Share of images with codes read right; for code-free groups, the share left alone."""
    coded = s["right"] + s["wrong"] + s["missed"] - (s["false_positive"] if not s["right"] + s["missed"] else 0)
    return 100 * s["right"] / coded if coded > 0 else 100 * (1 - s["false_positive"] / max(1, s["n"]))


class Command(BaseCommand):
    help = (
        "Accuracy (right / wrong / missed per rotation, detections on code-free images) and ms per frame "
        "of each engine and of the full pipeline, next to the bare zxing-cpp call measured in the same run."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", type=Path, help="folder of */N.png + N.txt and falsepositives-*/")
        parser.add_argument("--generated", action="store_true", help="720p/1080p frames with 0, 1 and 4 codes")
        parser.add_argument("--count", type=int, default=8, help="generated frames per size and code count")
        parser.add_argument("--engines", default="zxing,zbar")
        parser.add_argument("--rotations", default="0")
        parser.add_argument("--format-cost", action="store_true", help="ms per frame for QR plus each other format")
        parser.add_argument("--chart", type=Path, help="write a PNG chart here")
        parser.add_argument("--json", type=Path, help="write all figures here")

    def handle(self, *args, **opts) -> None:
        engines = [e.strip() for e in opts["engines"].split(",") if e.strip()]
        if bad := [e for e in engines if e not in ENGINES]:
            raise CommandError(f"unknown engine(s) {bad}; known: {', '.join(ENGINES)}")
        try:
            rotations = [int(r) % 360 for r in opts["rotations"].split(",")]
        except ValueError:
            raise CommandError("--rotations wants multiples of 90, e.g. 0,90,180,270")
        if any(r % 90 for r in rotations):
            raise CommandError("--rotations wants multiples of 90")
        if not opts["dataset"] and not opts["generated"]:
            raise CommandError("give --dataset DIR and/or --generated")
        cases = []
        if opts["dataset"]:
            if not opts["dataset"].is_dir():
                raise CommandError(f"{opts['dataset']} is not a folder")
            cases += bench.dataset_cases(opts["dataset"])
        generated = bench.generated_cases(opts["count"]) if opts["generated"] else []
        cases += generated
        readers = {"bare zxing": bench.bare_zxing}
        if "zbar" in engines:
            readers["bare zbar"] = bench.bare_zbar
        readers.update({f"pipeline {e}": bench.pipeline(e) for e in engines})
        self.stderr.write(f"{len(cases)} images x {len(rotations)} rotations x {len(readers)} readers")
        report = {"results": bench.run(cases, readers, rotations)}
        if opts["format_cost"]:
            frames = [c for c in generated if c.group.startswith("720p")] or cases[:20]
            report["format_cost"] = bench.format_costs(frames, list(FORMATS))
        self._print(report)
        if opts["json"]:
            opts["json"].write_text(json.dumps(report, indent=1))
        if opts["chart"]:
            self._chart(report, opts["chart"])

    def _print(self, report: dict) -> None:
        self.stdout.write(
            f"{'reader':<18}{'rot':>4} {'group':<14}{'n':>5}{'right':>7}{'wrong':>6}{'missed':>7}"
            f"{'fp':>4}{'p50 ms':>9}{'p95 ms':>9}{'x bare':>8}"
        )
        results = report["results"]
        for reader, by_rot in results.items():
            for rot, groups in by_rot.items():
                for group, s in groups.items():
                    bare = results["bare zxing"][rot][group]["p50_ms"] or 1e-9
                    self.stdout.write(
                        f"{reader:<18}{rot:>4} {group:<14}{s['n']:>5}{s['right']:>7}{s['wrong']:>6}{s['missed']:>7}"
                        f"{s['false_positive']:>4}{s['p50_ms']:>9}{s['p95_ms']:>9}{s['p50_ms'] / bare:>8.2f}"
                    )
        for name, cost in report.get("format_cost", {}).items():
            self.stdout.write(f"formats {name:<16} p50 {cost['p50_ms']} ms/frame (720p, zxing)")

    @staticmethod
    def _chart(report: dict, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")  # no display on servers
        import matplotlib.pyplot as plt

        results = report["results"]
        readers = list(results)
        groups = sorted({(rot, g) for r in readers for rot, gs in results[r].items() for g in gs})
        fig, (acc, speed) = plt.subplots(2, 1, figsize=(max(8, len(groups) * 1.4), 8))
        width = 0.8 / len(readers)
        for i, reader in enumerate(readers):
            xs = [j + i * width for j in range(len(groups))]
            s = [results[reader][rot][g] for rot, g in groups]
            acc.bar(xs, [_right_pct(x) for x in s], width, label=reader)
            speed.bar(xs, [x["p50_ms"] for x in s], width, label=reader)
        labels = [f"{g}\n{rot}°" for rot, g in groups]
        for ax, title in ((acc, "right %"), (speed, "median ms per frame")):
            ax.set_xticks([j + 0.4 - width / 2 for j in range(len(groups))], labels, fontsize=7)
            ax.set_title(title)
        acc.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
