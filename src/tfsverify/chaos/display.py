"""What ``tfsverify chaos`` shows: a live line per experiment and the final verdict table."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from tfsverify.chaos import control

_STYLE = {"pass": "green", "breach": "red", "error": "red", "interrupted": "yellow"}


class LiveLine:
    """``[2/5] node-drain  method: drain-busiest-node  31 s  1240 sent  3 failed  p99 4.2 ms``,
    re-rendered by rich's Live a few times a second."""

    def __init__(self, name: str, number: int, total: int) -> None:
        self.name, self.number, self.total = name, number, total
        self.started = time.monotonic()
        self.current = "starting"

    def phase(self, text: str) -> None:
        self.current = text

    def __rich__(self) -> Text:
        line = Text(f"[{self.number}/{self.total}] ", style="dim")
        line.append(self.name, style="bold")
        line.append(f"  {self.current}  {time.monotonic() - self.started:.0f} s")
        progress = control.live_progress()
        if progress is not None:
            line.append(f"  {progress.sent} sent  {progress.failed} failed  "
                        f"{progress.wrong} wrong")
            if progress.p99_ms is not None:
                line.append(f"  p99 {progress.p99_ms:.1f} ms")
        return line


def experiment_verdict(part: Mapping[str, Any]) -> str:
    if part.get("status") == "interrupted":
        return "interrupted"
    if part.get("error"):
        return "error"
    verdicts = part.get("verdicts") or []
    if part.get("deviated") or not all(v.get("passed") for v in verdicts):
        return "breach"
    return "pass" if part.get("status") == "completed" else "breach"


def _window_figures(part: Mapping[str, Any], window: str) -> str:
    by_assertion = {v.get("assertion"): v for v in part.get("verdicts") or []
                    if v.get("window") == window}
    figures = []
    availability = by_assertion.get("availability")
    if availability and availability.get("measured") is not None:
        figures.append(f"availability {availability['measured']:.4f}")
    p99 = by_assertion.get("p99_ms")
    if p99 and p99.get("measured") is not None:
        figures.append(f"p99 {p99['measured']:g} ms")
    return ", ".join(figures)


def experiment_line(part: Mapping[str, Any], elapsed_s: float) -> Text:
    """The permanent line printed when an experiment ends."""
    verdict = experiment_verdict(part)
    line = Text(f"{verdict:<11}", style=_STYLE.get(verdict, ""))
    line.append(f" {part.get('name')}  ({elapsed_s:.0f} s)")
    failed = [v["id"] for v in part.get("verdicts") or [] if not v.get("passed")]
    if part.get("error"):
        line.append(f"  {part['error']}")
    elif failed:
        line.append(f"  failed: {', '.join(failed)}")
    return line


def verdict_table(document: Mapping[str, Any]) -> Table:
    """One row per experiment: verdict, assertions held, fault-window figures."""
    table = Table(title=f"tfsverify chaos run {document.get('run_id')}: "
                        f"{document.get('verdict')}")
    for column in ("experiment", "verdict", "held", "fault window"):
        table.add_column(column)
    for part in document.get("experiments") or []:
        verdicts = part.get("verdicts") or []
        verdict = experiment_verdict(part)
        table.add_row(
            str(part.get("name")),
            Text(verdict, style=_STYLE.get(verdict, "")),
            f"{sum(1 for v in verdicts if v.get('passed'))}/{len(verdicts)}",
            _window_figures(part, "fault") or "-",
        )
    return table


def failed_lines(document: Mapping[str, Any]) -> list[str]:
    """One line per failed assertion or experiment error, below the table."""
    lines = []
    for part in document.get("experiments") or []:
        if part.get("error"):
            lines.append(f"error  {part.get('name')}: {part['error']}")
        for verdict in part.get("verdicts") or []:
            if not verdict.get("passed"):
                lines.append(f"failed {verdict.get('id')}: {verdict.get('detail')}")
    return lines
