"""``report.md``: the run in GitHub-flavoured Markdown, short enough for a PR comment.

Order: the overall verdict line, the failing assertions with their detail, the verdict
table (failing rows first), then one line per experiment (requests, availability and p99
by window). Strings from the document are escaped so they show as text and cannot break
the table or inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tfsverify.report.digest import ExperimentDigest, RunDigest, digest_run
from tfsverify.report.formatting import format_duration, format_ms, format_pct, format_utc

VERDICT_LINES = {
    "pass": "✅ PASS",
    "breach": "❌ BREACH",
    "error": "⚠️ ERROR",
}
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def render_markdown(document: Mapping[str, Any]) -> str:
    """The Markdown report of a checked results document."""
    run = digest_run(document)
    lines = [_headline(run), "", _facts(run), ""]
    if run.interrupted:
        lines += ["> **Interrupted** (Ctrl-C): these are partial results.", ""]
    errors = [exp for exp in run.experiments if exp.error]
    failing = [row for row in run.verdicts if not row.passed]
    if failing or errors:
        lines += ["### Failing", ""]
        lines += [f"- **{md(exp.name)}** could not run: {md(exp.error or '')}" for exp in errors]
        for row in failing:
            detail = f": {md(row.detail)}" if row.detail else ""
            lines.append(
                f"- **{md(row.experiment)}** `{code(row.name)}` measured {md(row.measured)}, "
                f"limit {md(row.limit)}{detail}"
            )
        lines.append("")
    lines += _verdict_table(run)
    lines += ["### Experiments", ""]
    lines += [_experiment_line(exp) for exp in run.experiments]
    lines.append("")
    return "\n".join(lines)


def md(text: str) -> str:
    """Text shown literally in GitHub Markdown (also inside a table cell), on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def code(text: str) -> str:
    """Text for inside single backticks: no backticks or pipes, on one line."""
    return " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")


def _headline(run: RunDigest) -> str:
    verdict = VERDICT_LINES.get(run.verdict, run.verdict.upper())
    return f"## {verdict}: tfsverify run `{code(run.run_id)}`"


def _facts(run: RunDigest) -> str:
    total = len(run.verdicts)
    return (
        f"Target **{md(run.target)}** · {len(run.experiments)} experiment(s) · "
        f"{run.failed} of {total} assertion(s) failed · started {format_utc(run.started_unix)}"
        f" · {format_duration(run.duration_s)}"
    )


def _verdict_table(run: RunDigest) -> list[str]:
    if not run.verdicts:
        return ["_No assertions were evaluated._", ""]
    lines = [
        "### Verdicts",
        "",
        "| result | experiment | window | assertion | measured | limit |",
        "| --- | --- | --- | --- | ---: | ---: |",
    ]
    for row in run.verdicts:
        result = "✅ pass" if row.passed else "❌ **fail**"
        lines.append(
            f"| {result} | {md(row.experiment)} | {md(row.window)} | `{code(row.assertion)}` "
            f"| {md(row.measured)} | {md(row.limit)} |"
        )
    lines.append("")
    return lines


def _experiment_line(exp: ExperimentDigest) -> str:
    mark = VERDICT_LINES.get(exp.verdict, exp.verdict).split()[0]
    head = f"- {mark} **{md(exp.name)}** ({md(exp.status)}"
    head += ", hypothesis deviated)" if exp.deviated else ")"
    if not exp.windows:
        return head + ": no load windows recorded"
    sent = sum(w.sent for w in exp.windows)
    availability = " · ".join(f"{w.name} {format_pct(w.availability)}" for w in exp.windows)
    p99 = " · ".join(f"{w.name} {format_ms(w.p99_ms)}" for w in exp.windows)
    return f"{head}: {sent:,} requests; availability {md(availability)}; p99 {md(p99)}"
