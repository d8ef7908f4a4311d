"""Verdicts: self-comparison says no change everywhere; a slowdown beyond the threshold is
flagged; a significant but small change is not; directions, gates and missing data."""

from __future__ import annotations

from typing import Any

import pytest

from tfsverify.perf.compare import (
    FASTER,
    NO_CHANGE,
    NOT_COMPARED,
    SLOWER,
    check_environment,
    compare_documents,
)
from tfsverify.perf.thresholds import DEFAULT_MUST_MATCH

from .conftest import ENVIRONMENT, make_document, thresholds


def verdicts(comparison: dict[str, Any]) -> dict[str, str]:
    return {m["id"]: m["verdict"] for m in comparison["metrics"]}


def test_a_run_compared_with_itself_has_no_detectable_change_anywhere() -> None:
    document = make_document()
    comparison = compare_documents(document, document, thresholds(), "self.json")
    assert set(verdicts(comparison).values()) == {NO_CHANGE}
    assert comparison["regressions"] == []
    assert comparison["verdict"] == "no regression"
    for metric in comparison["metrics"]:
        assert metric["change"] == 0.0
        assert metric["p_value"] == 1.0


def test_a_slower_server_is_flagged_as_a_regression() -> None:
    base, slow = make_document(seed=1), make_document(seed=2, factor=1.5)
    comparison = compare_documents(base, slow, thresholds(), "base.json")
    found = verdicts(comparison)
    assert found["sweep.200rps.p50_ms"] == SLOWER
    assert found["sweep.200rps.p99_ms"] == SLOWER
    p50 = next(m for m in comparison["metrics"] if m["id"] == "sweep.200rps.p50_ms")
    assert p50["change"] == pytest.approx(50, abs=6)
    assert p50["change_ci"][0] > 10  # the whole interval is beyond the threshold
    assert p50["regression"] is True
    assert comparison["verdict"] == "regression"
    assert "sweep.200rps.p50_ms" in comparison["regressions"]


def test_a_faster_server_is_faster_not_a_regression() -> None:
    comparison = compare_documents(make_document(seed=1), make_document(seed=2, factor=0.6),
                                   thresholds(), "base.json")
    assert verdicts(comparison)["sweep.200rps.p50_ms"] == FASTER
    assert comparison["regressions"] == []


def test_noise_alone_is_no_detectable_change() -> None:
    comparison = compare_documents(make_document(seed=3), make_document(seed=4), thresholds(),
                                   "base.json")
    assert set(verdicts(comparison).values()) == {NO_CHANGE}


def test_a_significant_change_within_the_threshold_is_no_detectable_change() -> None:
    base, slightly = make_document(seed=1, seconds=20), make_document(seed=2, seconds=20,
                                                                      factor=1.06)
    comparison = compare_documents(base, slightly, thresholds(), "base.json")
    p50 = next(m for m in comparison["metrics"] if m["id"] == "sweep.200rps.p50_ms")
    assert p50["p_value"] < 0.05  # it is real ...
    assert p50["verdict"] == NO_CHANGE  # ... but smaller than the 10 % threshold
    assert "significant but within the threshold" in p50["notes"]
    strict = thresholds(rules=[{"match": "*", "regression_pct": 3}])
    assert verdicts(compare_documents(base, slightly, strict, "b"))["sweep.200rps.p50_ms"] == SLOWER


def test_a_lower_knee_is_slower_for_a_metric_where_higher_is_better() -> None:
    base = make_document(knees=(400, 405, 410, 398, 402))
    lower = make_document(knees=(300, 310, 305, 298, 302))
    found = verdicts(compare_documents(base, lower, thresholds(), "b"))
    assert found["sweep.knee_rps"] == SLOWER
    assert verdicts(compare_documents(lower, base, thresholds(), "b"))["sweep.knee_rps"] == FASTER


def test_too_few_repetitions_are_said_and_give_no_detectable_change() -> None:
    base, lower = make_document(knees=(400, 410)), make_document(knees=(200, 210))
    comparison = compare_documents(base, lower, thresholds(), "b")
    knee = next(m for m in comparison["metrics"] if m["id"] == "sweep.knee_rps")
    assert knee["verdict"] == NO_CHANGE
    assert any("cannot reach p < 0.05" in note for note in knee["notes"])


def test_a_rule_without_gate_reports_slower_but_is_no_regression() -> None:
    ungated = thresholds(rules=[{"match": "*", "regression_pct": 10, "gate": False}])
    comparison = compare_documents(make_document(seed=1), make_document(seed=2, factor=1.5),
                                   ungated, "b")
    assert SLOWER in verdicts(comparison).values()
    assert comparison["regressions"] == []


def test_a_metric_past_the_baselines_knee_does_not_gate() -> None:
    base, slow = make_document(seed=1), make_document(seed=2, factor=1.5)
    for metric in base["metrics"]:
        metric["gate"] = False
    comparison = compare_documents(base, slow, thresholds(), "b")
    assert comparison["regressions"] == []


def test_absolute_thresholds_compare_differences() -> None:
    rules = [{"match": "sweep.knee_rps", "regression_abs": 50},
             {"match": "*", "regression_pct": 10}]
    base = make_document(knees=(400, 405, 410, 398, 402))
    slightly = make_document(knees=(380, 385, 390, 378, 382))
    comparison = compare_documents(base, slightly, thresholds(rules=rules), "b")
    knee = next(m for m in comparison["metrics"] if m["id"] == "sweep.knee_rps")
    assert knee["scale"] == "difference" and knee["change"] == pytest.approx(-20)
    assert knee["verdict"] == NO_CHANGE  # significant, but 20 rps < 50 rps


def test_metrics_on_one_side_only_or_without_a_rule_are_not_compared() -> None:
    base, cand = make_document(), make_document()
    cand["metrics"] = [m for m in cand["metrics"] if m["id"] != "sweep.knee_rps"]
    cand["metrics"].append({**base["metrics"][0], "id": "new.metric_ms"})
    comparison = compare_documents(base, cand, thresholds(rules=[
        {"match": "sweep.*", "regression_pct": 10}]), "b")
    found = verdicts(comparison)
    assert found["sweep.knee_rps"] == NOT_COMPARED
    assert found["new.metric_ms"] == NOT_COMPARED
    assert comparison["counts"][NOT_COMPARED] == 2


def test_environment_check_separates_must_match_keys_from_the_rest() -> None:
    other = {**ENVIRONMENT, "platform": "Linux-6.2", "cpu_count": 16}
    check = check_environment(ENVIRONMENT, other, DEFAULT_MUST_MATCH)
    assert not check.matches
    assert [key for key, _, _ in check.mismatched] == ["cpu_count"]
    assert [key for key, _, _ in check.differing] == ["platform"]
    assert "cpu_count (2 vs 16)" in check.describe()
    assert check_environment(ENVIRONMENT, dict(ENVIRONMENT), DEFAULT_MUST_MATCH).matches


def test_what_the_sidecar_adds_is_compared_as_a_difference_of_two_paths() -> None:
    rules = thresholds(rules=[{"match": "mesh.added_*", "regression_abs": 1.0},
                              {"match": "*", "regression_pct": 10}])
    base = make_document(seed=1, added_ms=1.0)
    same = compare_documents(base, make_document(seed=2, added_ms=1.0), rules, "b")
    assert verdicts(same)["mesh.added_p50_ms"] == NO_CHANGE
    itself = compare_documents(base, base, rules, "b")
    added = next(m for m in itself["metrics"] if m["id"] == "mesh.added_p50_ms")
    assert added["change"] == 0.0 and added["p_value"] == 1.0
    slowed = compare_documents(base, make_document(seed=3, added_ms=21.0), rules, "b")
    added = next(m for m in slowed["metrics"] if m["id"] == "mesh.added_p50_ms")
    assert added["verdict"] == SLOWER and added["regression"] is True
    assert added["change"] == pytest.approx(20.0, abs=1.0)
    assert added["change_ci"][0] > 15 and added["p_value"] < 0.01


def test_a_plan_with_its_own_rules_is_judged_by_them() -> None:
    rules = thresholds(plans={"test": {"rules": [{"match": "*", "regression_pct": 80}]}})
    comparison = compare_documents(make_document(seed=1), make_document(seed=2, factor=1.5),
                                   rules, "b")
    assert comparison["thresholds"]["plan_rules"] is True
    assert comparison["regressions"] == []  # +50 % is within the plan's 80 %
