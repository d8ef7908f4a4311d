"""Verdicts: each assertion judged on its window; nothing to judge is never a pass."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfsverify.slo import (
    Extra,
    NewPod,
    Verdict,
    evaluate,
    load_slo_set,
    overall,
    slo_set_from_dict,
    split_windows,
)

Series = Callable[..., list[dict[str, Any]]]
DEFAULT = Path(__file__).resolve().parents[2] / "scenarios" / "slo" / "default.yaml"
CONTRACT_FIELDS = [
    "id", "assertion", "window", "measured", "limit", "comparison", "unit", "passed", "detail",
]  # fmt: skip


def one(kind: str, window: str = "fault", **fields: Any) -> dict[str, Any]:
    return {"name": "t", "assertions": [{"kind": kind, "window": window, **fields}]}


def judge(document: dict[str, Any], rows: list[dict[str, Any]], windows: Any, **kw: Any) -> Verdict:
    (verdict,) = evaluate(slo_set_from_dict(document), rows, windows, **kw)
    return verdict


def test_a_pod_kill_run_passes_the_default_set(series: Series, t0: float) -> None:
    # 5 s warm-up, 30 s baseline, a 25 s fault window in which 7 requests fail, 40 s after
    rows = series(100, warmup_s=5, failures={36: {"UNAVAILABLE": 7}})
    windows = split_windows(rows, fault=(t0 + 35.2, t0 + 59.8))
    verdicts = evaluate(load_slo_set(DEFAULT), rows, windows, experiment="pod-kill")
    failed = [v for v in verdicts if not v.passed]
    assert failed == []
    assert overall(verdicts) == "pass"
    by_id = {v.id: v for v in verdicts}
    fault = by_id["pod-kill.fault.availability"]
    assert (fault.measured, fault.limit, fault.comparison, fault.unit) == (
        0.993,
        0.99,
        ">=",
        "ratio",
    )
    assert fault.detail == "7 of 1000 requests failed (UNAVAILABLE 7)"
    assert list(fault.to_dict()) == CONTRACT_FIELDS
    assert by_id["pod-kill.baseline.availability"].detail == "all 1200 requests answered correctly"
    assert by_id["pod-kill.recovery.time_to_recover_s"].measured == 2.0
    assert by_id["pod-kill.baseline.p99_ms"].detail == "p99 1.5 ms over 1200 answered requests"


def test_a_wrong_answer_breaches_the_default_set(series: Series, t0: float) -> None:
    rows = series(100, warmup_s=5, wrong={50: 1})
    windows = split_windows(rows, fault=(t0 + 35, t0 + 60))
    verdicts = evaluate(load_slo_set(DEFAULT), rows, windows, experiment="pod-kill")
    assert [v.id for v in verdicts if not v.passed] == ["pod-kill.fault.wrong_answer_rate"]
    assert overall(verdicts) == "breach"
    wrong = next(v for v in verdicts if not v.passed)
    assert (wrong.measured, wrong.detail) == (0.001, "1 of 1000 answers wrong")


def test_wrong_answers_count_against_availability(series: Series, t0: float) -> None:
    rows = series(10, wrong={2: 3}, failures={2: {"UNAVAILABLE": 1}})
    verdict = judge(one("availability_min", "whole", limit=0.99), rows, {"whole": (t0, t0 + 10)})
    assert verdict.measured == pytest.approx(396 / 400)
    assert verdict.detail == "1 of 400 requests failed (UNAVAILABLE 1); 3 of 400 answered wrong"
    assert verdict.passed


def test_pass_is_decided_on_the_exact_value_not_the_rounded_one(series: Series, t0: float) -> None:
    rows = series(1, rps=3, failures={0: {"UNAVAILABLE": 1}})
    verdict = judge(one("error_rate_max", "whole", limit=0.333333), rows, {"whole": (t0, t0 + 1)})
    assert verdict.measured == 0.333333  # rounded for the report
    assert not verdict.passed  # 1/3 is above the limit


def test_too_little_traffic_is_a_failed_verdict(series: Series, t0: float) -> None:
    rows = series(10)
    verdict = judge(one("min_requests", limit=100), rows, {"fault": (t0 + 3, t0 + 5)})
    assert (verdict.measured, verdict.passed) == (80, False)
    assert verdict.detail == (
        "not enough traffic to judge: 80 requests in the fault window, need at least 100"
    )
    enough = judge(one("min_requests", limit=80), rows, {"fault": (t0 + 3, t0 + 5)})
    assert (enough.passed, enough.comparison, enough.unit) == (True, ">=", "requests")


@pytest.mark.parametrize(
    "kind, limit",
    [
        ("availability_min", 0.5),
        ("wrong_answer_rate_max", 0),
        ("error_rate_max", 1),
        ("p99_ms_max", 1000),
        ("min_requests", 1),
    ],
)
def test_an_empty_window_never_passes(series: Series, t0: float, kind: str, limit: Any) -> None:
    verdict = judge(one(kind, limit=limit), series(10), {"fault": (t0 + 20, t0 + 30)})
    assert not verdict.passed
    assert verdict.measured in (None, 0)
    assert "no requests" in verdict.detail or "not enough traffic" in verdict.detail


def test_a_window_missing_from_the_run_fails(series: Series, t0: float) -> None:
    verdict = judge(
        one("availability_min", "recovery", limit=0.9), series(5), {"whole": (t0, t0 + 5)}
    )
    assert (verdict.measured, verdict.passed) == (None, False)
    assert verdict.detail == "no recovery window in this run: nothing to judge"


def test_all_requests_failed_leaves_no_answer_to_judge(series: Series, t0: float) -> None:
    rows = series(5, failures={s: {"UNAVAILABLE": 40} for s in range(5)})
    windows = {"fault": (t0, t0 + 5)}
    wrong = judge(one("wrong_answer_rate_max", limit=0), rows, windows)
    assert (wrong.passed, wrong.detail) == (False, "no answers to judge: all 200 requests failed")
    p99 = judge(one("p99_ms_max", limit=25), rows, windows)
    assert (p99.passed, p99.detail) == (
        False,
        "no answered requests in the fault window: no latency",
    )


def test_error_rate_can_be_limited_to_one_status(series: Series, t0: float) -> None:
    rows = series(10, failures={3: {"UNAVAILABLE": 2, "DEADLINE_EXCEEDED": 6}})
    windows = {"whole": (t0, t0 + 10)}
    only = judge(one("error_rate_max", "whole", limit=0.01, status="UNAVAILABLE"), rows, windows)
    assert (only.measured, only.passed, only.assertion) == (0.005, True, "error_rate_unavailable")
    assert only.detail == "2 of 400 requests failed with UNAVAILABLE"
    every = judge(one("error_rate_max", "whole", limit=0.01), rows, windows)
    assert (every.measured, every.passed) == (0.02, False)
    assert every.detail == "8 of 400 requests failed (DEADLINE_EXCEEDED 6, UNAVAILABLE 2)"


@pytest.mark.parametrize(
    "aborted_per_second, passed",
    [(8, True), (6, True), (2, False), (16, False)],
    ids=["injected-20pct", "low-edge-15pct", "masked-by-retries-5pct", "doubled-40pct"],
)
def test_an_injected_abort_must_show_in_its_band(
    series: Series, t0: float, aborted_per_second: int, passed: bool
) -> None:
    rows = series(20, failures={s: {"UNAVAILABLE": aborted_per_second} for s in range(20)})
    band = one("error_rate_in_band", limit=[0.14, 0.26], status="UNAVAILABLE")
    verdict = judge(band, rows, {"fault": (t0, t0 + 20)})
    assert verdict.passed is passed
    assert (verdict.limit, verdict.comparison) == ([0.14, 0.26], "in")
    assert verdict.measured == aborted_per_second / 40


def test_the_band_detail_shows_rate_and_band(series: Series, t0: float) -> None:
    rows = series(25, failures={s: {"UNAVAILABLE": 8} for s in range(25)})
    band = one("error_rate_in_band", limit=[0.14, 0.26], status="UNAVAILABLE")
    verdict = judge(band, rows, {"fault": (t0, t0 + 25)})
    assert (
        verdict.detail
        == "200 of 1000 requests failed with UNAVAILABLE (20.0%; band 14.0% to 26.0%)"
    )


def test_other_statuses_do_not_fill_the_band(series: Series, t0: float) -> None:
    rows = series(20, failures={s: {"ABORTED": 8} for s in range(20)})
    band = one("error_rate_in_band", limit=[0.14, 0.26], status="UNAVAILABLE")
    assert judge(band, rows, {"fault": (t0, t0 + 20)}).measured == 0


def test_percentile_assertions_use_the_merged_window(series: Series, t0: float) -> None:
    rows = series(10, slow={9: 100_000})
    windows = {"whole": (t0, t0 + 10)}
    p99 = judge(one("p99_ms_max", "whole", limit=25), rows, windows)
    assert p99.passed is False and p99.measured == pytest.approx(100, rel=1e-3)
    p50 = judge(one("p50_ms_max", "whole", limit=5), rows, windows)
    assert p50.passed and p50.measured == pytest.approx(1.5, rel=1e-3)


def test_a_missing_histogram_fails_latency_instead_of_guessing(series: Series, t0: float) -> None:
    rows = series(10)
    rows[4]["hdr"] = None
    verdict = judge(one("p99_ms_max", "whole", limit=25), rows, {"whole": (t0, t0 + 10)})
    assert (verdict.measured, verdict.passed) == (None, False)
    assert "1 rows with answers have no latency histogram" in verdict.detail


def test_time_to_first_correct_answer_takes_the_slowest_new_pod(series: Series, t0: float) -> None:
    document = one("time_to_first_correct_answer_s_max", "whole", limit=10)
    windows = {"whole": (t0, t0 + 60)}
    extra = Extra(
        new_pods=(
            ("pod-a", t0 + 10, t0 + 11.5),
            NewPod("pod-b", t0 + 20, t0 + 32),
            ("before-the-run", t0 - 100, t0 - 50),
        )
    )
    verdict = judge(document, series(60), windows, extra=extra)
    assert (verdict.measured, verdict.passed) == (12, False)
    assert (
        verdict.detail
        == "slowest of 2 new pods: pod-b answered correctly 12 s after it became ready"
    )


def test_time_to_first_correct_answer_needs_data(series: Series, t0: float) -> None:
    document = one("time_to_first_correct_answer_s_max", "whole", limit=10)
    windows = {"whole": (t0, t0 + 60)}
    unmeasured = judge(document, series(60), windows)
    assert (unmeasured.passed, unmeasured.detail.split(":")[0]) == (False, "not measured")
    none_new = judge(document, series(60), windows, extra=Extra(new_pods=()))
    assert (none_new.passed, none_new.detail) == (
        False,
        "no new pod became ready in the whole window",
    )
    never = judge(document, series(60), windows, extra=Extra(new_pods=(("pod-c", t0 + 5, None),)))
    assert (never.measured, never.passed) == (None, False)
    assert never.detail == "1 of 1 new pods never answered correctly: pod-c"


def test_verdict_ids_default_to_the_set_name(series: Series, t0: float) -> None:
    verdict = judge(one("availability_min", limit=0.9), series(5), {"fault": (t0, t0 + 5)})
    assert verdict.id == "t.fault.availability"


def test_overall_is_a_breach_when_any_verdict_failed() -> None:
    ok = Verdict("e.fault.a", "a", "fault", 1.0, 0.99, ">=", "ratio", True, "fine")
    bad = Verdict("e.fault.b", "b", "fault", None, 0.99, ">=", "ratio", False, "no requests")
    assert overall([ok, ok]) == "pass"
    assert overall([ok, bad]) == "breach"
    assert overall([]) == "pass"
