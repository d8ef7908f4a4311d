"""The report files: all four written, the HTML self-contained, JUnit counts that add up."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tfsverify.perf.compare import compare_documents
from tfsverify.perf.document import as_baseline, check_document
from tfsverify.perf.report_writer import FILES, write_report

from .conftest import make_document, thresholds


def junit_counts(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    cases = root.findall(".//testcase")
    assert int(root.get("tests", "-1")) == len(cases)
    return {"tests": len(cases), "failures": len(root.findall(".//testcase/failure")),
            "skipped": len(root.findall(".//testcase/skipped")),
            "attr_failures": int(root.get("failures", "-1"))}


def assert_self_contained(html: str) -> None:
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert "@import" not in html and "url(http" not in html


def test_a_real_run_renders_every_part_self_contained(run_document: dict[str, Any],
                                                      tmp_path: Path) -> None:
    paths = write_report(run_document, tmp_path)
    assert [p.name for p in paths] == list(FILES)
    html = (tmp_path / "report.html").read_text()
    assert_self_contained(html)
    for part in ("sweep", "ramp", "spike", "mesh", "engine-benchmark"):
        assert f'id="part-{part}"' in html
    for kind in ("latency", "throughput", "ramp", "spike", "mesh", "distributions"):
        assert f'<figure class="plot plot-{kind}">' in html
    assert html.count("<svg") == 6
    assert 'data-verdict="not-compared"' in html
    assert "Locust / engine" in html
    check_document(json.loads((tmp_path / "perf.json").read_text()), "perf.json")
    counts = junit_counts(tmp_path / "junit.xml")
    assert counts == {"tests": 1, "failures": 0, "skipped": 1, "attr_failures": 0}
    assert "Mesh adds (p50 / p90 / p99)" in (tmp_path / "report.md").read_text()


def test_a_real_run_against_itself_compares_every_metric_with_no_change(
        run_document: dict[str, Any], tmp_path: Path) -> None:
    baseline = as_baseline(run_document)
    run_document["comparison"] = compare_documents(baseline, run_document, thresholds(rules=[
        {"match": "mesh.added_*", "regression_abs": 1}, {"match": "*", "regression_pct": 10}]),
        "base.json")
    write_report(run_document, tmp_path, baseline)
    verdicts = {m["verdict"] for m in run_document["comparison"]["metrics"]}
    assert verdicts <= {"no detectable change", "not compared"}
    assert "no detectable change" in verdicts
    html = (tmp_path / "report.html").read_text()
    assert_self_contained(html)
    assert 'data-verdict="no-regression"' in html
    assert html.count('class="metric ') == len(run_document["comparison"]["metrics"])
    counts = junit_counts(tmp_path / "junit.xml")
    assert counts["tests"] == len(run_document["comparison"]["metrics"])
    assert counts["failures"] == 0


def test_regressions_fail_in_junit_and_lead_the_markdown(tmp_path: Path) -> None:
    base, slow = make_document(seed=1), make_document(seed=2, factor=1.5)
    slow["comparison"] = compare_documents(base, slow, thresholds(), "base.json")
    write_report(slow, tmp_path, base)
    regressions = slow["comparison"]["regressions"]
    counts = junit_counts(tmp_path / "junit.xml")
    assert counts["failures"] == counts["attr_failures"] == len(regressions) >= 2
    failure = ET.parse(tmp_path / "junit.xml").getroot().find(".//failure")
    assert failure is not None and "slower" in failure.get("message", "")
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.startswith("# Performance report perf-test: REGRESSION")
    table = markdown[markdown.index("## Comparison"):]
    assert table.splitlines()[4].startswith("| slower **(regression)**")
    html = (tmp_path / "report.html").read_text()
    assert 'data-verdict="regression"' in html
    assert html.count('data-regression="true"') == len(regressions)


def test_an_environment_mismatch_is_shown_in_every_format(tmp_path: Path) -> None:
    base = make_document()
    cand = make_document(environment={**base["environment"], "cpu_count": 16})
    cand["comparison"] = compare_documents(base, cand, thresholds(), "base.json")
    write_report(cand, tmp_path, base)
    assert 'id="environment-mismatch"' in (tmp_path / "report.html").read_text()
    assert "another environment (cpu_count)" in (tmp_path / "report.md").read_text()


def test_markup_in_names_is_shown_as_text(tmp_path: Path) -> None:
    document = make_document()
    document["warnings"] = ["<script>alert(1)</script>"]
    write_report(document, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
