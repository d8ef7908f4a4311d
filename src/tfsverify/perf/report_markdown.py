"""``report.md``: the performance report's summary in Markdown (for a PR or a release note).

The headline, the key figures, the warnings, and the comparison table with regressions
first. Pipes and line breaks in values are escaped so the tables stay tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfsverify.perf import report_view as view
from tfsverify.report.formatting import format_ms, format_utc


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(document: Mapping[str, Any]) -> str:
    verdict, sentence = view.headline(document)
    lines = [
        f"# Performance report {document['run_id']}: {verdict.upper()}",
        "",
        sentence,
        "",
        f"Plan `{document['plan']['name']}` on the {document['target'].get('kind', '?')} target, "
        f"started {format_utc(document.get('started_unix'))}.",
        "",
    ]
    comparison = document.get("comparison")
    if comparison:
        lines += [f"Baseline: `{comparison['baseline']['run_id']}` "
                  f"({comparison['baseline']['source']}).", ""]
        if not comparison["environment"]["matches"]:
            keys = ", ".join(k for k, _, _ in comparison["environment"]["mismatched"])
            lines += [f"> **Warning**: the baseline comes from another environment ({keys}); "
                      "the comparison was forced.", ""]
        if comparison.get("skipped"):
            lines += [f"> **Not compared**: {comparison['skipped']}", ""]
    for warning in document.get("warnings", []):
        lines.append(f"> **Warning**: {_cell(warning)}")
    if document.get("warnings"):
        lines.append("")
    lines += ["## Key figures", "", "| | |", "| --- | --- |"]
    lines += [f"| {_cell(label)} | {_cell(value)} |" for label, value in view.key_figures(document)]
    lines.append("")
    rows = view.comparison_rows(document)
    if rows:
        lines += ["## Comparison", "",
                  "| verdict | metric | baseline | candidate | change | p | threshold | notes |",
                  "| --- | --- | ---: | ---: | --- | ---: | ---: | --- |"]
        for row in rows:
            mark = " **(regression)**" if row["regression"] else ""
            lines.append(
                f"| {row['verdict']}{mark} | `{row['id']}` | {row['baseline_text']} | "
                f"{row['candidate_text']} | {_cell(row['change_text'])} | {row['p_text']} | "
                f"{row['threshold_text']} | {_cell('; '.join(row.get('notes', [])))} |")
        lines.append("")
    sweep = document.get("parts", {}).get("sweep")
    if sweep:
        lines += ["## Sweep", "", "| offered | answered | p50 | p99 | |",
                  "| ---: | ---: | ---: | ---: | --- |"]
        for step in sweep["steps"]:
            latency = step["pooled"]["latency_ms"]
            lines.append(f"| {step['rate_rps']:g} | {step['pooled']['ok_rps']:.0f} | "
                         f"{format_ms(latency['p50'])} | {format_ms(latency['p99'])} | "
                         f"{'past the knee' if step['saturated'] else ''} |")
        lines.append("")
    lines += ["The full report, with plots and the method: `report.html`; the data: `perf.json`.",
              ""]
    return "\n".join(lines)
