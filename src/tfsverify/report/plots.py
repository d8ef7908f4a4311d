"""The report's plots of one experiment, over seconds from the experiment's origin.

* latency: p50, p99 and max per second of the answered requests (a log scale when the
  values span more than 50x);
* throughput: answered-right (ok), answered-wrong and failed requests per second, the
  failures stacked by gRPC status, with the offered load (sent/s) as a line; below it, the
  same not-ok requests on their own scale, so that a handful of errors or wrong answers
  among thousands of requests still shows.

Every panel shades the windows (warm-up, baseline, fault, recovery) and marks method and
rollback activities as vertical lines, numbered as in the activity timeline. Colours are
the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies) and
series also differ by line style, hatch or label. No pyplot: figures are built
object-oriented, so rendering keeps no global state and needs no display.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from tfsverify.report.digest import ExperimentDigest
from tfsverify.report.svg import inline_svg, plot_style

WINDOW_COLOURS = {"baseline": "#56B4E9", "fault": "#D55E00", "recovery": "#009E73"}
WINDOW_TEXT_COLOURS = {"baseline": "#0072B2", "fault": "#B34700", "recovery": "#00785A"}
OK_COLOUR, WRONG_COLOUR = "#009E73", "#CC79A7"
FAILURE_COLOURS = ("#D55E00", "#E69F00", "#0072B2", "#F0E442", "#56B4E9", "#000000")
WIDTH_IN = 10.0
Layer = tuple[str, list[float], str, str | None]  # label, per-second values, colour, hatch


def latency_svg(exp: ExperimentDigest, prefix: str) -> str | None:
    """The latency figure as inline SVG markup, or ``None`` without series data."""
    if not exp.series or exp.origin_unix is None:
        return None
    x = [_offset(exp, row) + 0.5 for row in exp.series]
    lines = {
        "p50": ([_num(row.get("p50_ms")) for row in exp.series], "#0072B2", "-"),
        "p99": ([_num(row.get("p99_ms")) for row in exp.series], "#D55E00", "--"),
        "max": ([_num(row.get("max_ms")) for row in exp.series], "#444444", ":"),
    }
    values = [v for ys, _, _ in lines.values() for v in ys if v > 0 and math.isfinite(v)]
    with plot_style():
        fig = Figure(figsize=(WIDTH_IN, 3.4), layout="constrained")
        ax = fig.add_subplot()
        for label, (ys, colour, style) in lines.items():
            ax.plot(x, ys, label=label, color=colour, linestyle=style, linewidth=1.4)
        if values and max(values) / min(values) > 50:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_ylabel("latency (ms, log scale)")
        else:
            ax.set_ylim(bottom=0)
            ax.set_ylabel("latency (ms)")
        _windows(ax, exp, labelled=True)
        _activities(ax, exp, numbered=True)
        _finish(ax, exp, "Latency of answered requests per second")
        fig.legend(loc="outside right upper", handles=_handles(ax, exp))
        title = f"{exp.name}: latency per second (p50, p99, max)"
        return inline_svg(fig, prefix, title, _latency_desc(exp, values))


def throughput_svg(exp: ExperimentDigest, prefix: str) -> str | None:
    """The throughput figure as inline SVG markup, or ``None`` without series data."""
    if not exp.series or exp.origin_unix is None:
        return None
    rows = exp.series
    x = [_offset(exp, row) for row in rows]
    x.append(x[-1] + 1)
    statuses = _statuses(rows)
    not_ok = _not_ok_layers(rows, statuses)
    with plot_style():
        fig = Figure(figsize=(WIDTH_IN, 4.8), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
        ok = [float(row.get("ok") or 0) for row in rows]
        _stack(top, x, [("ok", ok, OK_COLOUR, None), *not_ok])
        sent = [float(row.get("sent") or 0) for row in rows]
        top.step(x, [*sent, sent[-1]], where="post", color="black", linewidth=1, label="sent/s")
        top.set_ylim(bottom=0)
        top.set_ylabel("requests/s")
        _windows(top, exp, labelled=True)
        _activities(top, exp, numbered=True)
        _finish(top, exp, "Requests per second by outcome", xlabel=False)
        if _stack(bottom, x, not_ok):
            bottom.set_ylim(bottom=0)
        else:
            bottom.set_ylim(0, 1)
            bottom.text(
                0.5,
                0.5,
                "no failed or wrong requests",
                transform=bottom.transAxes,
                ha="center",
                va="center",
                color="#555555",
            )
        bottom.set_ylabel("not ok/s")
        for ax in (top, bottom):
            ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
        _windows(bottom, exp, labelled=False)
        _activities(bottom, exp, numbered=False)
        _finish(bottom, exp, "")
        fig.legend(loc="outside right upper", handles=_handles(top, exp))
        title = f"{exp.name}: requests per second (ok, wrong answers, failed by gRPC status)"
        return inline_svg(fig, prefix, title, _throughput_desc(exp, statuses))


# -- internals -------------------------------------------------------------------------


def _not_ok_layers(rows: Sequence[Mapping[str, Any]], statuses: list[str]) -> list[Layer]:
    wrong = [float(row.get("wrong") or 0) for row in rows]
    layers: list[Layer] = [("wrong answer", wrong, WRONG_COLOUR, "////")]
    for i, status in enumerate(statuses):
        counts = [float((row.get("failed_by_status") or {}).get(status, 0)) for row in rows]
        hatch = None if i < len(FAILURE_COLOURS) else "xx"
        layers.append((status, counts, FAILURE_COLOURS[i % len(FAILURE_COLOURS)], hatch))
    other = [
        max(0.0, float(row.get("failed") or 0) - sum((row.get("failed_by_status") or {}).values()))
        for row in rows
    ]
    layers.append(("failed (other)", other, "#999999", "..."))
    return layers


def _stack(ax: Axes, x: list[float], layers: list[Layer]) -> bool:
    """Stacked step areas of the non-empty layers; whether anything was drawn."""
    base = [0.0] * (len(x) - 1)
    drawn = False
    for label, ys, colour, hatch in layers:
        if not any(ys):
            continue
        top = [b + y for b, y in zip(base, ys, strict=True)]
        ax.fill_between(
            x,
            [*base, base[-1]],
            [*top, top[-1]],
            step="post",
            label=f"{label}/s",
            facecolor=colour,
            hatch=hatch,
            edgecolor="white" if hatch else colour,
            linewidth=0,
        )
        base, drawn = top, True
    return drawn


def _windows(ax: Axes, exp: ExperimentDigest, labelled: bool) -> None:
    """The warm-up and the windows shaded, and named above the axes if ``labelled``."""
    above = blended_transform_factory(ax.transData, ax.transAxes)
    spans = []
    warm = [_offset(exp, row) for row in exp.series if row.get("warmup")]
    if warm:
        first = _offset(exp, exp.series[0])
        ax.axvspan(
            first, max(warm) + 1, facecolor="#DDDDDD", alpha=0.6, hatch="..", edgecolor="#999999"
        )
        spans.append(("warm-up", first, max(warm) + 1, "#555555", "normal"))
    for w in exp.windows:
        start, end = w.start_unix - (exp.origin_unix or 0), w.end_unix - (exp.origin_unix or 0)
        colour = WINDOW_COLOURS.get(w.name, "#999999")
        ax.axvspan(start, end, facecolor=colour, alpha=0.12, linewidth=0)
        spans.append((w.name, start, end, WINDOW_TEXT_COLOURS.get(w.name, "#333333"), "bold"))
    if labelled:
        for name, start, end, colour, weight in spans:
            ax.text(
                (start + end) / 2,
                1.01,
                name,
                transform=above,
                ha="center",
                va="bottom",
                color=colour,
                fontweight=weight,
            )


def _activities(ax: Axes, exp: ExperimentDigest, numbered: bool) -> None:
    """Method activities (dashed) and rollbacks (dotted), numbered as in the timeline."""
    above = blended_transform_factory(ax.transData, ax.transAxes)
    span = _span(exp)[1] - _span(exp)[0]
    last_x, level = -math.inf, 0
    for activity in exp.activities:
        if not activity.marked or activity.start_s is None:
            continue
        style = "--" if activity.phase == "method" else ":"
        ax.axvline(activity.start_s, color="black", linestyle=style, linewidth=1)
        if not numbered:
            continue
        level = level + 1 if activity.start_s - last_x < span * 0.04 else 0  # stagger
        last_x = activity.start_s
        ax.text(
            activity.start_s,
            0.97 - 0.1 * (level % 3),
            str(activity.number),
            transform=above,
            ha="center",
            va="top",
            fontsize=7,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "black"},
        )


def _finish(ax: Axes, exp: ExperimentDigest, title: str, xlabel: bool = True) -> None:
    if title:
        ax.set_title(title, loc="left", pad=16, fontsize=10)
    if xlabel:
        ax.set_xlabel("seconds from the start of the experiment")
    ax.set_xlim(*_span(exp))
    ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)


def _span(exp: ExperimentDigest) -> tuple[float, float]:
    first = _offset(exp, exp.series[0])
    return first, max(first + 1.0, _offset(exp, exp.series[-1]) + 1)


def _handles(ax: Axes, exp: ExperimentDigest) -> list[Any]:
    handles: list[Any] = list(ax.get_legend_handles_labels()[0])
    phases = {a.phase for a in exp.activities if a.marked}
    if "method" in phases:
        handles.append(Line2D([], [], color="black", linestyle="--", label="method activity (#)"))
    if "rollback" in phases:
        handles.append(Line2D([], [], color="black", linestyle=":", label="rollback (#)"))
    return handles


def _statuses(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The failure statuses in the series, most frequent first."""
    totals: dict[str, float] = {}
    for row in rows:
        for status, count in (row.get("failed_by_status") or {}).items():
            totals[status] = totals.get(status, 0) + count
    return sorted(totals, key=lambda s: (-totals[s], s))


def _offset(exp: ExperimentDigest, row: Mapping[str, Any]) -> float:
    return float(row["start_unix"]) - (exp.origin_unix or 0.0)


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _latency_desc(exp: ExperimentDigest, values: list[float]) -> str:
    parts = [f"Latency per second of experiment {exp.name}."]
    for w in exp.windows:
        p99 = f"{w.p99_ms:.1f} ms" if w.p99_ms is not None else "n/a"
        parts.append(f"{w.name} window p99 {p99}.")
    if values:
        parts.append(f"Highest value plotted: {max(values):.1f} ms.")
    return " ".join(parts)


def _throughput_desc(exp: ExperimentDigest, statuses: list[str]) -> str:
    parts = [f"Requests per second of experiment {exp.name} by outcome."]
    for w in exp.windows:
        parts.append(
            f"{w.name} window: {w.sent} sent, {w.ok} ok, {w.wrong} wrong, {w.failed} failed."
        )
    if statuses:
        parts.append("Failure statuses: " + ", ".join(statuses) + ".")
    return " ".join(parts)
