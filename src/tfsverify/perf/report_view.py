"""What every format of the performance report says, worded once (HTML, Markdown, JUnit).

The headline is one of: ``regression`` (a gating metric is slower beyond its threshold),
``no regression`` (compared, nothing gating is slower), ``not compared`` (no baseline, or
a baseline from another environment). Changes read as the issue tracker wants them:
``p99 +12.0 % (95 % CI +8.1 .. +16.0 %), p = 0.001: slower``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfsverify.report.formatting import format_duration, format_ms

Doc = Mapping[str, Any]


def headline(doc: Doc) -> tuple[str, str]:
    """(verdict word, one sentence)."""
    comparison = doc.get("comparison")
    if not comparison:
        return "not compared", "No baseline was compared: the figures below stand alone."
    if not comparison["metrics"]:
        return "not compared", comparison.get("skipped", "Nothing was compared.")
    counts = comparison["counts"]
    regressions = comparison["regressions"]
    if regressions:
        more = "..." if len(regressions) > 6 else ""
        return "regression", (f"{len(regressions)} metric(s) slower beyond their thresholds: "
                              + ", ".join(regressions[:6]) + more)
    return "no regression", (f"{counts['no detectable change']} metric(s) with no detectable "
                             f"change, {counts['faster']} faster, {counts['slower']} slower "
                             f"but not gating, {counts['not compared']} not compared.")


def format_number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return format_ms(value)
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "rps":
        return f"{value:,.0f} req/s"
    if unit == "us":
        return f"{value:,.0f} µs"
    if unit == "pct":
        return f"{value:+.1f} %"
    if unit == "MB/min":
        return f"{value:+.2f} MB/min"
    return f"{value:.3g} {unit}"


def format_change(metric: Mapping[str, Any], confidence: float = 0.95) -> str:
    """``+12.0 % (95 % CI +8.1 .. +16.0 %)`` or, for differences, in the metric's unit."""
    if metric.get("change") is None:
        return "n/a"
    level = f"{confidence * 100:g} % CI"
    low, high = metric["change_ci"]
    if metric["scale"] == "ratio":
        return f"{metric['change']:+.1f} % ({level} {low:+.1f} .. {high:+.1f} %)"
    unit = {"us": "µs", "rps": "req/s", "pct": "points"}.get(metric["unit"], metric["unit"])
    return f"{metric['change']:+.3g} {unit} ({level} {low:+.3g} .. {high:+.3g})"


def format_threshold(metric: Mapping[str, Any]) -> str:
    if metric.get("threshold") is None:
        return ""
    if metric["scale"] == "ratio":
        return f"{metric['threshold']:g} %"
    unit = {"us": "µs", "rps": "req/s", "pct": "points"}.get(metric["unit"], metric["unit"])
    return f"{metric['threshold']:g} {unit}"


def comparison_rows(doc: Doc) -> list[dict[str, Any]]:
    """Comparison rows, regressions first, then other verdicts, then the not compared."""
    comparison = doc.get("comparison") or {}
    confidence = comparison.get("thresholds", {}).get("confidence", 0.95)
    order = {"slower": 0, "faster": 1, "no detectable change": 2, "not compared": 3}
    rows = []
    for metric in comparison.get("metrics", []):
        rows.append({
            **metric,
            "baseline_text": format_number(metric.get("baseline"), metric["unit"]),
            "candidate_text": format_number(metric.get("candidate"), metric["unit"]),
            "change_text": format_change(metric, confidence),
            "change_value": format_change(metric, confidence).partition(" (")[0],
            "change_ci": format_change(metric, confidence).partition(" (")[2].removesuffix(")"),
            "p_text": "" if metric.get("p_value") is None else f"{metric['p_value']:.3g}",
            "delta_text": ("" if metric.get("cliffs_delta") is None
                           else f"{metric['cliffs_delta']:+.2f} ({metric['magnitude']})"),
            "threshold_text": format_threshold(metric),
            "rank": (0 if metric["regression"] else 1 + order[metric["verdict"]]),
        })
    return sorted(rows, key=lambda r: r["rank"])


def key_figures(doc: Doc) -> list[tuple[str, str]]:
    """The figures a release manager reads first."""
    parts = doc.get("parts", {})
    out: list[tuple[str, str]] = []
    sweep = parts.get("sweep")
    if sweep:
        knee = sweep["knee"]
        value = f"{knee['knee_rps']:,.0f} req/s" if knee.get("knee_rps") else "not found"
        out.append(("Saturation knee (p99 crosses "
                    f"{sweep['slo_p99_ms']:g} ms)", f"{value}: {knee['note']}"))
    mesh = parts.get("mesh")
    if mesh:
        added = mesh["added_ms"]
        out.append(("Mesh adds (p50 / p90 / p99)", " / ".join(
            f"{added[f'{k}_ms']['value']:+.2f} ms" for k in ("p50", "p90", "p99"))))
        out.append(("Mesh CPU per request (client TLS + sidecar)",
                    f"{mesh['added_cpu_us_per_request']:,.0f} µs "
                    f"({mesh['added_vcpu_per_1000_rps']:.2f} vCPU per 1000 req/s)"))
    spike = parts.get("spike")
    if spike:
        values = [r["recovery_s"] for r in spike["repetitions"]]
        out.append(("Recovery after the spike", ", ".join(
            "not recovered" if v is None else f"{v:g} s" for v in values)))
    soak = parts.get("soak")
    if soak:
        rep = soak["repetitions"][0]
        drift = rep["p99_drift_pct"]
        out.append(("Soak p99 drift (first to last third)",
                    "n/a" if drift is None else f"{drift:+.1f} %"))
    bench = doc.get("engine_benchmark") or {}
    if bench.get("status") == "ok" and bench.get("cpu"):
        ratios = ", ".join(
            f"{c['locust_over_engine']:g}x at {c['offered_rps']:g} req/s"
            if c["engine"]["cpu_us_per_request"] > 0 and c["locust"]["cpu_us_per_request"] > 0
            else f"n/a at {c['offered_rps']:g} req/s (run too short)" for c in bench["cpu"])
        out.append(("Locust CPU per request vs this engine", ratios))
        fidelity = bench["fidelity"]["p99"]
        out.append((f"p99 under a server stall ({bench['fidelity']['stall']})",
                    f"truth {format_ms(fidelity['truth_ms'])}: engine "
                    f"{fidelity['engine_error']:+.0%}, Locust {fidelity['locust_error']:+.0%}"))
    out.append(("Run duration", format_duration(doc.get("duration_s"))))
    return out
