"""Plan and thresholds files: the shipped ones load, every broken one is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfsverify.errors import BadInput
from tfsverify.perf.plan import load_plan
from tfsverify.perf.progress import estimate_s, steps_of
from tfsverify.perf.thresholds import load_thresholds

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def test_the_shipped_plans_and_thresholds_load() -> None:
    quick = load_plan(REPO / "scenarios/perf/quick.yaml")
    full = load_plan(REPO / "scenarios/perf/full.yaml")
    thresholds = load_thresholds(REPO / "scenarios/perf/thresholds.yaml")
    assert quick.soak is None and full.soak is not None
    assert quick.sweep is not None and quick.sweep.repetitions >= 2
    assert thresholds.rule_for("sweep.200rps.p99_ms").regression_pct == 20  # type: ignore[union-attr]
    assert thresholds.rule_for("mesh.added_p99_ms").regression_abs == 1.0  # type: ignore[union-attr]


def test_the_quick_plan_fits_in_a_few_minutes_and_the_full_one_says_how_long() -> None:
    quick = estimate_s(steps_of(load_plan(REPO / "scenarios/perf/quick.yaml"), mesh_pods=3))
    full = estimate_s(steps_of(load_plan(REPO / "scenarios/perf/full.yaml"), mesh_pods=3))
    assert quick < 4 * 60
    assert 15 * 60 < full < 35 * 60


def test_rules_match_in_order_the_plans_own_first() -> None:
    thresholds = load_thresholds(REPO / "scenarios/perf/thresholds.yaml")
    rule = thresholds.rule_for("mesh.sidecar_cpu_us_per_request")
    assert rule is not None and rule.gate is False
    assert thresholds.rule_for("unknown.metric") is None
    quick = thresholds.rule_for("sweep.50rps.p50_ms", "quick")
    general = thresholds.rule_for("sweep.50rps.p50_ms", "full")
    assert quick is not None and general is not None
    assert (quick.regression_pct, general.regression_pct) == (60, 10)
    soak = thresholds.rule_for("soak.p99_drift_pct", "quick")  # not in quick's own rules
    assert soak is not None and soak.regression_abs == 20


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("thresholds-bad-yaml.yaml", "not valid YAML at line 4"),
        ("thresholds-unknown-field.yaml", "rules[0]: unknown field regresion_pct"),
        ("thresholds-no-threshold.yaml", "rules[0]: a rule needs regression_pct or regression_abs"),
        ("thresholds-negative.yaml", "rules[1].regression_pct: -5 is less than or equal to"),
        ("thresholds-version.yaml", "version: 1 was expected"),
        ("thresholds-alpha.yaml", "alpha: 1.5 is greater than or equal to the maximum of 1"),
        ("thresholds-plan.yaml", "plans.quick.rules[0].regression_pct: 'ten' is not of type"),
    ],
)
def test_broken_thresholds_are_one_line_naming_the_file_and_field(name: str, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        load_thresholds(DATA / name)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(str(DATA / name))
    assert message in text


def test_a_missing_thresholds_file_is_bad_input() -> None:
    with pytest.raises(BadInput, match="no such thresholds file"):
        load_thresholds(DATA / "nope.yaml")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("plan-wrong-kind.yaml", "sweep.profile: kind 'ramp' cannot be used here; expected step"),
        ("plan-bad-profile.yaml", "mesh.profile: rate_rps: 0 is less than or equal to"),
        ("plan-settle.yaml", "stages[0]: duration_s 1 leaves nothing after settle_s 2"),
        ("plan-unknown.yaml", "Additional properties are not allowed ('sweeep' was unexpected)"),
    ],
)
def test_broken_plans_are_one_line(name: str, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        load_plan(DATA / name)
    assert "\n" not in str(caught.value)
    assert message in str(caught.value)
