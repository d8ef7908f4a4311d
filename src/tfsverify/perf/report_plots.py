"""The performance report's plots of one run (and its baseline, drawn dashed in grey).

* latency vs offered load (the sweep: p50/p90/p99 per step, every repetition's p99 as a
  dot, the objective and the knee);
* throughput knee (answered requests/s against offered requests/s);
* the ramp (per-second p99 against the offered rate), the spike (p99 and rate over time,
  recovery marked), the soak (latency and memory over time), the mesh overhead (p50/p90/p99
  direct and through the sidecar).

Each function returns inline SVG markup (:func:`tfsverify.report.svg.inline_svg`) or
``None`` when the document has no such part. Colours: Okabe-Ito; series also differ by
line style or marker. No pyplot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from tfsverify.report.svg import inline_svg, plot_style

COLOURS = {"p50": "#0072B2", "p90": "#009E73", "p99": "#D55E00", "rate": "#555555"}
STYLES = {"p50": "-", "p90": "-.", "p99": "--"}
BASELINE = "#999999"
KNEE = "#CC79A7"
WIDTH_IN = 9.0
Doc = Mapping[str, Any]


def _part(doc: Doc | None, name: str) -> Any:
    return (doc or {}).get("parts", {}).get(name)


def _log_y(ax: Axes, label: str) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(label)


def sweep_latency_svg(doc: Doc, baseline: Doc | None, prefix: str) -> str | None:
    sweep = _part(doc, "sweep")
    if not sweep:
        return None
    with plot_style():
        fig = Figure(figsize=(WIDTH_IN, 3.6), layout="constrained")
        ax = fig.add_subplot()
        old = _part(baseline, "sweep")
        for key in ("p50", "p90", "p99"):
            if old:
                rates, values = _step_values(old, key)
                ax.plot(rates, values, color=BASELINE, linestyle=STYLES[key], marker="s",
                        markersize=3, label=f"{key} baseline")
            rates, values = _step_values(sweep, key)
            ax.plot(rates, values, color=COLOURS[key], linestyle=STYLES[key], marker="o",
                    markersize=4, label=key)
        for step in sweep["steps"]:
            dots = [r["latency_ms"]["p99"] for r in step["repetitions"] if r["latency_ms"]["p99"]]
            ax.plot([step["rate_rps"]] * len(dots), dots, linestyle="none", marker=".",
                    color=COLOURS["p99"], alpha=0.6)
        ax.axhline(sweep["slo_p99_ms"], color="#000000", linewidth=0.8, linestyle=":")
        ax.annotate(f"objective p99 {sweep['slo_p99_ms']:g} ms", (0.01, sweep["slo_p99_ms"]),
                    xycoords=("axes fraction", "data"), va="bottom", fontsize=8)
        _knee_line(ax, sweep["knee"].get("knee_rps"))
        _log_y(ax, "latency (ms, log scale)")
        ax.set_xlabel("offered load (requests/s)")
        ax.set_title("Latency vs offered load (step sweep, warm-up and settling excluded)")
        fig.legend(loc="outside right upper")
        desc = "; ".join(f"{s['rate_rps']:g} rps: p99 {s['pooled']['latency_ms']['p99']} ms"
                         for s in sweep["steps"])
        return inline_svg(fig, prefix, "Latency vs offered load", desc)


def throughput_svg(doc: Doc, baseline: Doc | None, prefix: str) -> str | None:
    sweep = _part(doc, "sweep")
    if not sweep:
        return None
    with plot_style():
        fig = Figure(figsize=(WIDTH_IN, 3.2), layout="constrained")
        ax = fig.add_subplot()
        rates = [s["rate_rps"] for s in sweep["steps"]]
        ax.plot([0, max(rates)], [0, max(rates)], color="#000000", linewidth=0.6, linestyle=":",
                label="answered = offered")
        old = _part(baseline, "sweep")
        if old:
            ax.plot([s["rate_rps"] for s in old["steps"]],
                    [s["pooled"]["ok_rps"] for s in old["steps"]], color=BASELINE,
                    linestyle="--", marker="s", markersize=3, label="baseline")
        ax.plot(rates, [s["pooled"]["ok_rps"] for s in sweep["steps"]], color=COLOURS["p50"],
                marker="o", label="answered right")
        _knee_line(ax, sweep["knee"].get("knee_rps"))
        ax.set_xlabel("offered load (requests/s)")
        ax.set_ylabel("answered right (requests/s)")
        ax.set_ylim(bottom=0)
        ax.set_title("Throughput knee")
        fig.legend(loc="outside right upper")
        knee = sweep["knee"].get("knee_rps")
        desc = f"knee {knee:.0f} rps" if knee else str(sweep["knee"].get("note"))
        return inline_svg(fig, prefix, "Throughput vs offered load", desc)


def _step_values(sweep: Doc, key: str) -> tuple[list[float], list[float]]:
    pairs = [(s["rate_rps"], s["pooled"]["latency_ms"][key]) for s in sweep["steps"]]
    known = [(r, v) for r, v in pairs if v is not None]
    return [r for r, _ in known], [v for _, v in known]


def _knee_line(ax: Axes, knee: float | None) -> None:
    if knee:
        ax.axvline(knee, color=KNEE, linewidth=1.2)
        ax.annotate(f"knee {knee:.0f} rps", (knee, 0.95), xycoords=("data", "axes fraction"),
                    color=KNEE, ha="right", fontsize=8, rotation=90, va="top")


def ramp_svg(doc: Doc, prefix: str) -> str | None:
    ramp = _part(doc, "ramp")
    if not ramp:
        return None
    slo = doc["plan"]["slo_p99_ms"]
    with plot_style():
        fig = Figure(figsize=(WIDTH_IN, 3.2), layout="constrained")
        ax = fig.add_subplot()
        for number, rep in enumerate(ramp["repetitions"]):
            rows = [r for r in rep["series"] if r["p99_ms"]]
            for key in ("p50", "p99"):
                ax.plot([r["sent"] for r in rows], [r[f"{key}_ms"] for r in rows],
                        color=COLOURS[key], linestyle=STYLES[key], marker=".", linewidth=0.8,
                        label=key if number == 0 else None)
            _knee_line(ax, rep.get("knee_rps"))
        ax.axhline(slo, color="#000000", linewidth=0.8, linestyle=":")
        _log_y(ax, "latency per second (ms, log)")
        ax.set_xlabel("offered load in that second (requests/s)")
        ax.set_title("Ramp: per-second latency as the rate climbs")
        fig.legend(loc="outside right upper")
        knees = [r.get("knee_rps") for r in ramp["repetitions"]]
        return inline_svg(fig, prefix, "Ramp latency vs rate", f"knee per repetition: {knees}")


def spike_svg(doc: Doc, prefix: str) -> str | None:
    spike = _part(doc, "spike")
    if not spike or not spike["repetitions"]:
        return None
    rep = spike["repetitions"][0]
    with plot_style():
        fig = Figure(figsize=(WIDTH_IN, 3.2), layout="constrained")
        ax = fig.add_subplot()
        rows = rep["series"]
        ax.axvspan(spike["spike_start_s"], spike["spike_end_s"], color="#E69F00", alpha=0.2,
                   label="spike")
        ax.plot([r["offset_s"] + 0.5 for r in rows], [r["p99_ms"] for r in rows],
                color=COLOURS["p99"], linestyle="--", label="p99 per second")
        ax.axhline(doc["plan"]["slo_p99_ms"], color="#000000", linewidth=0.8, linestyle=":")
        if rep["recovery_s"] is not None:
            ax.axvline(spike["spike_end_s"] + rep["recovery_s"], color=KNEE,
                       label=f"recovered (+{rep['recovery_s']:g} s)")
        _log_y(ax, "p99 (ms, log)")
        twin = ax.twinx()
        twin.plot([r["offset_s"] + 0.5 for r in rows], [r["sent"] for r in rows],
                  color=COLOURS["rate"], linewidth=0.8, label="offered (req/s)")
        twin.set_ylabel("offered (requests/s)")
        ax.set_xlabel("seconds from the start of the run")
        ax.set_title("Spike: latency and recovery (first repetition)")
        fig.legend(loc="outside right upper")
        return inline_svg(fig, prefix, "Spike and recovery",
                          f"recovery {rep['recovery_s']} s after the spike")


def soak_svg(doc: Doc, prefix: str) -> str | None:
    soak = _part(doc, "soak")
    if not soak or not soak["repetitions"]:
        return None
    rep = soak["repetitions"][0]
    with plot_style():
        fig = Figure(figsize=(WIDTH_IN, 4.6), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=False)
        rows = rep["series"]
        for key in ("p50", "p99"):
            top.plot([r["offset_s"] for r in rows], [r[f"{key}_ms"] for r in rows],
                     color=COLOURS[key], linestyle=STYLES[key], linewidth=0.8, label=key)
        _log_y(top, "latency (ms, log)")
        top.set_title("Soak: latency per second and resident memory (first repetition)")
        memory = rep["memory_mb"]
        for name in sorted({k for row in memory for k in row if k != "offset_s"}):
            points = [(row["offset_s"], row[name]) for row in memory if name in row]
            pod, _, container = name.partition("/")
            bottom.plot([p[0] for p in points], [p[1] for p in points], marker=".",
                        linewidth=0.8, label=f"{pod.rsplit('-', 1)[-1]}/{container}")
        bottom.set_ylabel("RSS (MB)")
        bottom.set_xlabel("seconds")
        top.legend(loc="upper right", fontsize=7)
        bottom.legend(loc="upper right", fontsize=6, ncols=2)
        return inline_svg(fig, prefix, "Soak drift", f"p99 drift {rep['p99_drift_pct']} %")


def mesh_svg(doc: Doc, prefix: str) -> str | None:
    mesh = _part(doc, "mesh")
    if not mesh:
        return None
    keys = ("p50", "p90", "p99")
    with plot_style():
        fig = Figure(figsize=(WIDTH_IN, 3.0), layout="constrained")
        ax = fig.add_subplot()
        for offset, (way, colour, hatch) in enumerate(
                (("direct", "#56B4E9", ""), ("sidecar", "#D55E00", "//"))):
            values = [mesh["latency_ms"][way][k] or 0 for k in keys]
            bars = ax.bar([i + offset * 0.38 for i in range(3)], values, width=0.36,
                          color=colour, hatch=hatch, label=way)
            ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7)
        ax.set_xticks([i + 0.19 for i in range(3)], keys)
        ax.set_ylabel("latency (ms)")
        ax.set_title(f"Mesh overhead at {mesh['rate_rps']:g} requests/s: direct vs sidecar")
        fig.legend(loc="outside right upper")
        added = ", ".join(f"{k} +{mesh['added_ms'][f'{k}_ms']['value']:.2f} ms" for k in keys)
        return inline_svg(fig, prefix, "Mesh overhead", added)
