"""The comparison plots: percentile distributions and the changes with their intervals.

* **distributions**: for each compared latency sample (sweep steps within the knee, mesh
  direct and sidecar, soak, spike after), latency against percentile on a "nines" axis
  (50, 90, 99, 99.9 equally spaced), candidate solid, baseline dashed grey; without a
  baseline, the run's own distributions;
* **changes**: every compared metric's change (%, or in its unit for differences) with its
  confidence interval, the regression threshold shaded, coloured by verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

from tfsverify.perf.samples import merge
from tfsverify.report.svg import inline_svg, plot_style

QUANTILES = (1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9)
VERDICT_COLOURS = {"slower": "#D55E00", "faster": "#009E73", "no detectable change": "#0072B2"}
MAX_PANELS = 8
CLIP_PCT = 100.0


def _nines(q: float) -> float:
    return -math.log10(1 - q / 100)


def distribution_keys(doc: Mapping[str, Any]) -> list[str]:
    """The latency samples worth a distribution panel, in report order."""
    gating = {m["samples"] for m in doc.get("metrics", [])
              if m["kind"] == "latency" and m.get("gate", True)}
    return [key for key in doc.get("samples", {}) if key in gating][:MAX_PANELS]


def _curve(sample: Sequence[Sequence[str]]) -> tuple[list[float], list[float]]:
    histogram = merge(text for rep in sample for text in rep)
    if histogram.get_total_count() == 0:
        return [], []
    values = histogram.get_percentile_to_value_dict(list(QUANTILES))
    return [_nines(q) for q in QUANTILES], [values[q] / 1000 for q in QUANTILES]


def distributions_svg(doc: Mapping[str, Any], baseline: Mapping[str, Any] | None,
                      prefix: str) -> str | None:
    keys = distribution_keys(doc)
    if not keys:
        return None
    columns = min(4, len(keys))
    rows = math.ceil(len(keys) / columns)
    with plot_style():
        fig = Figure(figsize=(9.0, 2.4 * rows), layout="constrained")
        axes = fig.subplots(rows, columns, squeeze=False)
        for index, key in enumerate(keys):
            ax = axes[index // columns][index % columns]
            old = (baseline or {}).get("samples", {}).get(key)
            if old:
                x, y = _curve(old)
                ax.plot(x, y, color="#999999", linestyle="--", label="baseline")
            x, y = _curve(doc["samples"][key])
            ax.plot(x, y, color="#0072B2", label="candidate" if baseline else "this run")
            ax.set_title(key, fontsize=8)
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.xaxis.set_major_locator(FixedLocator([_nines(q) for q in (50, 90, 99, 99.9)]))
            ax.xaxis.set_major_formatter(FuncFormatter(
                lambda v, _: f"p{100 - 100 * 10 ** -v:g}"))
        for index in range(len(keys), rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        fig.supylabel("latency (ms, log)", fontsize=8)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper")
        return inline_svg(fig, prefix, "Latency percentile distributions",
                          "baseline vs candidate: " + ", ".join(keys))


def changes_svg(comparison: Mapping[str, Any], prefix: str) -> str | None:
    """Gating metrics compared as ratios; intervals beyond ±``CLIP_PCT`` are cut (arrow)."""
    rows = [m for m in comparison.get("metrics", []) if m["verdict"] != "not compared"
            and m["scale"] == "ratio" and m["change_ci"] and m["gate"]]
    if not rows:
        return None
    with plot_style():
        fig = Figure(figsize=(9.0, 0.9 + 0.22 * len(rows)), layout="constrained")
        ax = fig.add_subplot()
        for y, metric in enumerate(reversed(rows)):
            low, high = (max(-CLIP_PCT, v) if v < 0 else min(CLIP_PCT, v)
                         for v in metric["change_ci"])
            colour = VERDICT_COLOURS.get(metric["verdict"], "#555555")
            ax.plot([low, high], [y, y], color=colour, linewidth=2)
            for end, raw, marker in ((low, metric["change_ci"][0], "<"),
                                     (high, metric["change_ci"][1], ">")):
                if raw != end:
                    ax.plot([end], [y], marker=marker, color=colour, markersize=5)
            change = max(-CLIP_PCT, min(CLIP_PCT, metric["change"]))
            ax.plot([change], [y], marker="o", color=colour, markersize=4)
            sign = 1 if metric["better"] == "lower" else -1
            ax.plot([sign * metric["threshold"]] * 2, [y - 0.4, y + 0.4], color="#000000",
                    linewidth=0.8)
        ax.axvline(0, color="#000000", linewidth=0.6, linestyle=":")
        ax.set_xlim(-CLIP_PCT * 1.05, CLIP_PCT * 1.05)
        ax.set_yticks(range(len(rows)), [m["id"] for m in reversed(rows)], fontsize=7)
        ax.set_xlabel(f"change vs baseline (%) with its confidence interval "
                      f"(cut at ±{CLIP_PCT:g} %); | = regression threshold")
        ax.set_title("Changes of the gating metrics, candidate vs baseline")
        return inline_svg(fig, prefix, "Changes with confidence intervals",
                          "; ".join(f"{m['id']} {m['change']:+.1f}% ({m['verdict']})"
                                    for m in rows))
