"""A realistic run results document (schema_version 1) for the report's tests.

Two experiments under 40 requests per second with a 5 s warm-up:

* ``pod-kill`` breaches: killing a pod fails requests with UNAVAILABLE and slows the
  answers during the fault window, so ``fault.availability`` and ``fault.p99_latency_ms``
  fail. One of its probes has a hostile name (``<script>alert(1)</script>``).
* ``grpc-fault`` passes: an injected abort gives a few INTERNAL errors and one wrong answer,
  within its limits.

Rows in which nothing was answered have ``hdr: null`` (as the load engine writes them).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from tfsverify.report import write_reports

HOSTILE = "<script>alert(1)</script>"
START_UNIX = 1_795_680_000.0
RATE = 40
WARMUP_S, BASELINE_S, FAULT_S, RECOVERY_S = 5, 20, 15, 20


def _row(index: int, start: float, rng: random.Random, fault: str | None) -> dict[str, Any]:
    """One second of load; ``fault`` is None, "pod-kill", "pod-kill-dark" or "abort"."""
    sent = RATE
    by_status: dict[str, int] = {}
    wrong = 0
    slow = 1.0
    if fault == "pod-kill":
        by_status["UNAVAILABLE"] = rng.randint(3, 8)
        slow = 40.0
    elif fault == "pod-kill-dark":  # nothing answered this second
        by_status = {"UNAVAILABLE": sent - 2, "CLIENT_OVERLOAD": 2}
    elif fault == "abort":
        by_status["INTERNAL"] = rng.randint(0, 1)
        wrong = 1 if index == 30 else 0
    failed = sum(by_status.values())
    answered = sent - failed
    histogram = HdrHistogram(1, 600_000_000, 3)
    for _ in range(answered):
        histogram.record_value(int(rng.lognormvariate(7.2, 0.3) * slow))  # ~1.3 ms
    has = histogram.get_total_count() > 0
    pct = histogram.get_percentile_to_value_dict([50.0, 90.0, 99.0]) if has else {}
    return {
        "index": index,
        "start_unix": start,
        "warmup": index < WARMUP_S,
        "sent": sent,
        "ok": answered - wrong,
        "wrong": wrong,
        "failed": failed,
        "overload": by_status.get("CLIENT_OVERLOAD", 0),
        "no_upstream": by_status.get("UNAVAILABLE", 0) if fault == "pod-kill-dark" else 0,
        "failed_by_status": by_status,
        "p50_ms": pct[50.0] / 1000 if has else None,
        "p90_ms": pct[90.0] / 1000 if has else None,
        "p99_ms": pct[99.0] / 1000 if has else None,
        "max_ms": histogram.get_max_value() / 1000 if has else None,
        "hdr": histogram.encode().decode("ascii") if has else None,
    }


def _activity(
    name: str, kind: str, phase: str, start: float, length_s: float, touched: list[str]
) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "phase": phase,
        "start_unix": start,
        "end_unix": start + length_s,
        "status": "succeeded",
        "output": None,
        "touched": touched,
    }


def _verdict(
    exp: str, window: str, assertion: str, measured: float, limit: float, cmp: str, unit: str
) -> dict[str, Any]:
    passed = measured >= limit if cmp == ">=" else measured <= limit
    return {
        "id": f"{exp}.{window}.{assertion}",
        "assertion": assertion,
        "window": window,
        "measured": measured,
        "limit": limit,
        "comparison": cmp,
        "unit": unit,
        "passed": passed,
        "detail": f"{assertion} in the {window} window: {measured} against {cmp} {limit}",
    }


def _experiment(name: str, start: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    t_base = start + WARMUP_S
    t_fault = t_base + BASELINE_S
    t_rec = t_fault + FAULT_S
    t_end = t_rec + RECOVERY_S
    series = []
    for index in range(int(t_end - start)):
        second = start + index
        fault = None
        if name == "pod-kill" and t_fault + 1 <= second < t_fault + 5:
            fault = "pod-kill-dark" if second == t_fault + 2 else "pod-kill"
        elif name == "grpc-fault" and t_fault <= second < t_rec:
            fault = "abort"
        series.append(_row(index, second, rng, fault))
    pod = "anomaly-detection-5f7c9d-abcde"
    if name == "pod-kill":
        method = [
            _activity("terminate-one-serving-pod", "action", "method", t_fault, 0.4, [pod]),
            _activity(HOSTILE, "probe", "method", t_fault + 6, 0.2, []),
        ]
        touched = [pod, "node-a"]
        verdicts = [
            _verdict(name, "baseline", "availability", 1.0, 0.999, ">=", "ratio"),
            _verdict(name, "fault", "availability", 0.872, 0.99, ">=", "ratio"),
            _verdict(name, "fault", "p99_latency_ms", 311.0, 250.0, "<=", "ms"),
            _verdict(name, "recovery", "p99_latency_ms", 2.6, 250.0, "<=", "ms"),
            _verdict(name, "recovery", "time_to_recover_s", 5.0, 30.0, "<=", "s"),
        ]
    else:
        method = [_activity("inject-grpc-abort", "action", "method", t_fault, 0.1, [])]
        touched = []
        verdicts = [
            _verdict(name, "baseline", "availability", 1.0, 0.999, ">=", "ratio"),
            _verdict(name, "fault", "availability", 0.985, 0.95, ">=", "ratio"),
            _verdict(name, "recovery", "availability", 1.0, 0.999, ">=", "ratio"),
        ]
    activities = [
        _activity("model-answers-correctly", "probe", "hypothesis-before", t_base + 1, 0.3, []),
        *method,
        _activity("model-answers-correctly", "probe", "hypothesis-after", t_end - 3, 0.3, []),
        _activity("clear-grpc-faults", "action", "rollback", t_rec, 0.1, []),
    ]
    return {
        "name": name,
        "title": f"{name}: predictions stay correct and fast",
        "file": f"experiments/{name}.json",
        "status": "completed",
        "deviated": False,
        "error": None,
        "windows": {
            "baseline": [t_base, t_fault],
            "fault": [t_fault, t_rec],
            "recovery": [t_rec, t_end],
        },
        "activities": activities,
        "load": {"totals": {"sent": RATE * (int(t_end - start) - WARMUP_S)}},
        "series": series,
        "slo": {"name": name, "file": f"scenarios/slo/{name}.yaml"},
        "verdicts": verdicts,
        "touched": touched,
    }


def build_document() -> dict[str, Any]:
    first = _experiment("pod-kill", START_UNIX, seed=1)
    second = _experiment("grpc-fault", START_UNIX + 100, seed=2)
    return {
        "schema_version": 1,
        "kind": "tfsverify.run",
        "run_id": "20261126T083000Z",
        "started_unix": START_UNIX - 2,
        "ended_unix": START_UNIX + 165,
        "target": "local",
        "environment": {
            "python": "3.11.9",
            "grpc": "1.85.0",
            "platform": "Linux-6.1-x86_64",
            "cpu_count": 2,
            "hostname_sha256": "0123456789abcdef",
            "tfsverify": "0.1.0",
        },
        "interrupted": False,
        "verdict": "breach",
        "experiments": [first, second],
    }


_DOCUMENT = build_document()


@pytest.fixture
def document() -> dict[str, Any]:
    """A fresh copy of the two-experiment document (tests may change it)."""
    return copy.deepcopy(_DOCUMENT)


@pytest.fixture(scope="session")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report folder of the two-experiment document, written once per test session."""
    out = tmp_path_factory.mktemp("report") / _DOCUMENT["run_id"]
    write_reports(copy.deepcopy(_DOCUMENT), out)
    return out


@dataclass(frozen=True)
class Element:
    """A start tag seen by :func:`parse_html`, with the tags it sits in."""

    tag: str
    attrs: dict[str, str]
    ancestors: tuple[str, ...]  # "tag#id.class1.class2" of each enclosing element

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Collector(HTMLParser):
    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
        | {"source", "track", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append(Element(tag, values, tuple(self.stack)))
        if tag not in self.VOID:
            label = tag + (f"#{values['id']}" if "id" in values else "")
            label += "".join(f".{c}" for c in values.get("class", "").split())
            self.stack.append(label)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append(Element(tag, values, tuple(self.stack)))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth].split("#")[0].split(".")[0] == tag:
                del self.stack[depth:]
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(markup: str) -> tuple[list[Element], str]:
    """The start tags of ``markup`` in document order, and its text (entities decoded)."""
    collector = _Collector()
    collector.feed(markup)
    collector.close()
    return collector.elements, "".join(collector.text)


@pytest.fixture(scope="session")
def html_parser() -> Callable[[str], tuple[list[Element], str]]:
    """:func:`parse_html`, for tests (conftest modules are not importable by name)."""
    return parse_html
