"""report.md: the verdict line, failing assertions first, the table, one line per experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfsverify.report import render_markdown
from tfsverify.report.markdown import md

HOSTILE = "<script>alert(1)</script>"


def test_verdict_line_and_failing_first(report_dir: Path) -> None:
    text = (report_dir / "report.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "## ❌ BREACH: tfsverify run `20261126T083000Z`"
    assert "2 of 8 assertion(s) failed" in lines[2]
    failing = text.index("### Failing")
    assert failing < text.index("### Verdicts") < text.index("### Experiments")
    assert "- **pod-kill** `fault.p99_latency_ms` measured 311 ms, limit ≤ 250 ms" in text


def test_the_verdict_table_is_github_markdown(report_dir: Path) -> None:
    lines = (report_dir / "report.md").read_text(encoding="utf-8").splitlines()
    header = lines.index("| result | experiment | window | assertion | measured | limit |")
    assert lines[header + 1] == "| --- | --- | --- | --- | ---: | ---: |"
    rows = lines[header + 2 : header + 10]
    assert all(row.startswith("| ") and row.count(" | ") == 5 for row in rows)
    assert [row.startswith("| ❌ **fail**") for row in rows] == [True, True] + [False] * 6
    assert rows[0] == "| ❌ **fail** | pod-kill | fault | `availability` | 87.20 % | ≥ 99.00 % |"
    assert lines[header + 10] == ""


def test_one_line_per_experiment_with_windows(report_dir: Path) -> None:
    text = (report_dir / "report.md").read_text(encoding="utf-8")
    (line,) = [x for x in text.splitlines() if x.startswith("- ✅ **grpc-fault**")]
    assert "2,200 requests" in line
    assert "availability baseline 100.00 % · fault 98.50 % · recovery 100.00 %" in line
    assert "p99 baseline " in line and " ms · fault " in line


def test_a_passing_run_has_no_failing_section(document: dict[str, Any]) -> None:
    document["experiments"] = document["experiments"][1:]
    document["verdict"] = "pass"
    text = render_markdown(document)
    assert text.startswith("## ✅ PASS")
    assert "### Failing" not in text


def test_hostile_strings_are_escaped(document: dict[str, Any]) -> None:
    document["experiments"][0]["name"] = HOSTILE + "|x"
    document["experiments"][0]["verdicts"][1]["detail"] = "line one\n| --- |"
    text = render_markdown(document)
    assert HOSTILE not in text
    assert md(HOSTILE + "|x") in text and "\\|x" in text
    assert "line one \\| --- \\|" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 10 and all(line.count(" | ") == 5 for line in table)
