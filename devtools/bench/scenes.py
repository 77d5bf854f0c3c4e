"""One chart of several `manage.py bench` runs (scenes): CPU per stored snapshot by process type, beside
what decoding alone costs per frame in the same run, with each run's snapshots/s served and asked."""

import json
from pathlib import Path

STAGES = ("cpu", "io", "simulator", "postgres", "redis")


def _label(result: dict) -> str:
    step = next((s for s in result["steps"] if s["load"] == 1.0), result["steps"][-1])
    c = result["config"]
    return (
        f"{result.get('scene', 'busy')}\n{c['cameras']} × {c['interval_s']:g} s\n"
        f"{step['snapshots_per_s']:.0f} of {step['offered_per_s']:.0f}/s, p95 {step['latency_p95_s']} s"
    )


def scenes_chart(paths: list[Path], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [json.loads(p.read_text()) for p in paths]
    fig, ax = plt.subplots(figsize=(2.4 + 2.2 * len(results), 4.2))
    for i, result in enumerate(results):
        step = next((s for s in result["steps"] if s["load"] == 1.0), result["steps"][-1])
        per = step["cpu_ms_per_snapshot"]
        bottom = 0.0
        for j, stage in enumerate(STAGES):
            value = per.get(stage, 0.0)
            ax.bar(i, value, bottom=bottom, color=f"C{j}", label=stage if i == 0 else None, width=0.55)
            bottom += value
        other = max(0.0, per.get("host", bottom) - bottom)
        ax.bar(i, other, bottom=bottom, color="lightgrey", label="rest of host" if i == 0 else None, width=0.55)
        ceiling = result["decode_ceiling"].get("pipeline_decode_frames_per_s")
        if ceiling:
            decode_ms = 1000 * result["host"]["cores"] / ceiling
            ax.plot([i - 0.4, i + 0.4], [decode_ms, decode_ms], "k--", label="decoding alone" if i == 0 else None)
    ax.set_xticks(range(len(results)), [_label(r) for r in results], fontsize=8)
    ax.set_ylabel("CPU ms per stored snapshot")
    ax.set_title(f"camtrack scenes on {results[0]['host']['cores']} cores")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
