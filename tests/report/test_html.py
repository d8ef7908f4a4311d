"""report.html: the verdict table, the plots, self-containment and escaping."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfsverify.report import render_html

HOSTILE = "<script>alert(1)</script>"
Parser = Callable[[str], tuple[list[Any], str]]


@pytest.fixture(scope="module")
def html(report_dir: Path) -> str:
    return (report_dir / "report.html").read_text(encoding="utf-8")


def test_header_shows_run_target_and_verdict(html: str, html_parser: Parser) -> None:
    elements, text = html_parser(html)
    by_id = {e.attrs["id"]: e for e in elements if "id" in e.attrs}
    assert by_id["run"].attrs["data-verdict"] == "breach"
    assert by_id["overall-verdict"].classes >= {"badge", "verdict-breach"}
    assert "tfsverify run 20261126T083000Z" in " ".join(text.split())
    assert "BREACH" in text and "local" in text
    assert "hostname_sha256" in text and "0123456789abcdef" in text  # environment


def test_verdict_table_rows_failing_first(html: str, html_parser: Parser) -> None:
    elements, _ = html_parser(html)
    rows = [e for e in elements if e.tag == "tr" and "verdict" in e.classes]
    assert all(any(a.startswith("table#verdict-table") for a in r.ancestors) for r in rows)
    assert [r.attrs["data-verdict"] for r in rows] == ["fail"] * 2 + ["pass"] * 6
    assert [r.attrs["data-check"] for r in rows[:2]] == [
        "fault.availability",
        "fault.p99_latency_ms",
    ]
    assert Counter(r.attrs["data-experiment"] for r in rows) == {"pod-kill": 5, "grpc-fault": 3}


def test_one_plot_of_each_kind_per_experiment(html: str, html_parser: Parser) -> None:
    elements, _ = html_parser(html)
    sections = [e for e in elements if e.tag == "section" and "experiment" in e.classes]
    assert [s.attrs["data-verdict"] for s in sections] == ["breach", "pass"]
    figures = [e for e in elements if e.tag == "figure" and "plot" in e.classes]
    kinds = Counter(
        (next(a for a in f.ancestors if a.startswith("section#exp-")), f.attrs["data-kind"])
        for f in figures
    )
    assert sorted(kinds.values()) == [1, 1, 1, 1]
    assert {kind for _, kind in kinds} == {"latency", "throughput"}
    svgs = [e for e in elements if e.tag == "svg" and "plot-svg" in e.classes]
    assert len(svgs) == 4
    assert all(any(".plot" in a for a in s.ancestors) for s in svgs)
    titles = [e for e in elements if e.tag == "title" and e.ancestors[-1].startswith("svg")]
    assert len(titles) == 4
    assert all(s.attrs["role"] == "img" and s.attrs["aria-labelledby"] for s in svgs)


def test_ids_are_unique_across_the_inlined_figures(html: str, html_parser: Parser) -> None:
    elements, _ = html_parser(html)
    ids = Counter(e.attrs["id"] for e in elements if "id" in e.attrs)
    assert [i for i, n in ids.items() if n > 1] == []
    referenced = set(re.findall(r'(?:url\(#|href="#)([^")]+)', html))
    assert referenced <= set(ids)  # every internal reference resolves


def test_nothing_is_fetched_from_outside(html: str, html_parser: Parser) -> None:
    elements, _ = html_parser(html)
    for e in elements:
        for name in ("src", "href", "xlink:href", "action", "srcset"):
            value = e.attrs.get(name)
            assert value is None or value.startswith("#"), (e.tag, name, value)
    assert not [e for e in elements if e.tag in ("script", "link", "iframe", "img", "object")]
    assert "@import" not in html and "url(http" not in html and "url(//" not in html


def test_timeline_and_touched(html: str, html_parser: Parser) -> None:
    elements, text = html_parser(html)
    activities = [e for e in elements if e.tag == "tr" and "activity" in e.classes]
    assert len(activities) == 5 + 4
    assert sum(e.attrs.get("data-marked") == "true" for e in activities) == 3 + 2
    touched = [e for e in elements if e.tag == "ul" and "touched" in e.classes]
    assert len(touched) == 1 and "anomaly-detection-5f7c9d-abcde" in text and "node-a" in text


def test_hostile_strings_are_escaped(html: str) -> None:
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def test_hostile_names_everywhere_stay_text(document: dict[str, Any], html_parser: Parser) -> None:
    exp = document["experiments"][0]
    exp["name"] = '"><img src=x onerror=alert(1)>$x$'
    exp["title"] = HOSTILE
    exp["series"][30]["failed_by_status"] = {"<b>BAD</b>": 1}
    exp["series"][30]["failed"] += 1
    exp["verdicts"][0]["detail"] = HOSTILE
    document["environment"]["hostile"] = HOSTILE
    html = render_html(document)
    elements, text = html_parser(html)
    assert not [e for e in elements if e.tag in ("img", "script", "b")]
    assert HOSTILE in text and "<b>BAD</b>" in text and '"><img src=x onerror=alert(1)>$x$' in text


def test_an_experiment_without_series_renders_without_plots(
    document: dict[str, Any], html_parser: Parser
) -> None:
    second = document["experiments"][1]
    second.update(series=[], windows=None, verdicts=[], error="no ready pods", status="aborted")
    document["interrupted"] = True
    html = render_html(document)
    elements, _ = html_parser(html)
    figures = [e for e in elements if e.tag == "figure"]
    assert len(figures) == 2
    assert 'class="muted no-series"' in html and "no ready pods" in html
    sections = [e for e in elements if e.tag == "section" and "experiment" in e.classes]
    assert sections[1].attrs["data-verdict"] == "error"
    assert any(e.attrs.get("id") == "interrupted" for e in elements)
