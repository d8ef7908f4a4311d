"""SLO set files: the shipped ones load, bad ones fail with one line naming file and field."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from tfsverify.errors import EXIT_BAD_INPUT, BadInput
from tfsverify.slo import load_slo_set, load_slo_sets, slo_schema, slo_set_from_dict

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios" / "slo"
DATA = Path(__file__).with_name("data")

BAD_FILES = {
    "wrong-type-limit.yaml": "assertions[2].limit: 'abc' is not of type 'number'",
    "unknown-top-field.yaml": (
        "rolling_window: unknown field; allowed: assertions, description, name, rolling_window_s"
    ),
    "unknown-assertion-field.yaml": (
        "assertions[1].tolerance: unknown field; allowed: description, kind, limit, name, "
        "status, window"
    ),
    "unknown-kind.yaml": "assertions[0].kind: 'p95_ms_max' is not one of ['availability_min',",
    "unknown-window.yaml": "assertions[0].window: 'during' is not one of ['baseline', 'fault',",
    "missing-window.yaml": "assertions[0]: 'window' is a required property",
    "ratio-above-one.yaml": "assertions[0].limit: 99.9 is greater than the maximum of 1",
    "min-requests-fraction.yaml": "assertions[0].limit: 10.5 is not of type 'integer'",
    "band-reversed.yaml": "assertions[0].limit: 0.3 is above 0.1",
    "band-one-number.yaml": "assertions[0].limit: 0.2 is not of type 'array'",
    "band-without-status.yaml": "assertions[0]: 'status' is a required property",
    "unknown-status.yaml": "assertions[0].status: 'UNAVAIL' is not one of ['CANCELLED',",
    "recover-without-criteria.yaml": (
        "assertions[1]: time_to_recover_s_max needs availability_min or p99_ms_max"
    ),
    "recover-wrong-window.yaml": "assertions[0].window: 'recovery' was expected",
    "duplicate-id.yaml": "assertions[1].name: 'fault.availability' is also assertions[0]",
    "bad-name.yaml": "name: 'Pod Kill' does not match",
    "no-assertions.yaml": "assertions: [] should be non-empty",
    "not-a-mapping.yaml": "(top): [{'kind': 'availability_min',",
    "bad-yaml.yaml": "not valid YAML at line 4",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_fails_with_one_line_naming_file_and_field(name: str) -> None:
    path = DATA / name
    with pytest.raises(BadInput) as caught:
        load_slo_set(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {BAD_FILES[name]}")
    assert "\n" not in message
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_every_bad_file_in_the_data_folder_is_checked() -> None:
    assert {p.name for p in DATA.glob("*.yaml")} == set(BAD_FILES)


def test_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"nothing\.yaml: cannot read the SLO set"):
        load_slo_set(tmp_path / "nothing.yaml")


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(slo_schema())


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_slo_set_loads_and_is_named_after_its_file(path: Path) -> None:
    slo_set = load_slo_set(path)
    assert slo_set.name == path.stem
    assert slo_set.description
    assert slo_set.source == str(path)
    # every judged window is guarded against a silent pass on thin traffic
    guarded = {a.window for a in slo_set.assertions if a.kind == "min_requests"}
    judged = {a.window for a in slo_set.assertions if a.kind != "time_to_recover_s_max"}
    assert judged - {"whole"} <= guarded


def test_the_shipped_sets_are_the_four_the_experiments_use() -> None:
    assert set(load_slo_sets(SCENARIOS)) == {"default", "grpc-fault", "mtls", "model-rollout"}


def test_the_default_set_recovers_to_baseline_availability_within_30_s() -> None:
    by_key = {a.key: a for a in load_slo_set(SCENARIOS / "default.yaml").assertions}
    recover = by_key["recovery.time_to_recover_s"]
    assert recover.limit == 30
    assert recover.availability_min == by_key["baseline.availability"].limit == 0.999
    assert by_key["fault.availability"].limit == 0.99
    assert by_key["fault.wrong_answer_rate"].limit == 0


def test_model_rollout_allows_no_wrong_answer_in_any_window() -> None:
    slo_set = load_slo_set(SCENARIOS / "model-rollout.yaml")
    wrong = {a.window: a.limit for a in slo_set.assertions if a.kind == "wrong_answer_rate_max"}
    assert wrong == {"baseline": 0, "fault": 0, "recovery": 0, "whole": 0}


def test_grpc_fault_expects_the_injected_abort_in_a_band() -> None:
    slo_set = load_slo_set(SCENARIOS / "grpc-fault.yaml")
    (band,) = [a for a in slo_set.assertions if a.kind == "error_rate_in_band"]
    assert (band.window, band.status, band.limit) == ("fault", "UNAVAILABLE", (0.14, 0.26))
    assert band.comparison == "in"


def test_recovery_criteria_come_from_the_baseline_unless_given() -> None:
    document = {
        "name": "x",
        "rolling_window_s": 3,
        "assertions": [
            {"kind": "availability_min", "window": "baseline", "limit": 0.995},
            {"kind": "p99_ms_max", "window": "baseline", "limit": 20},
            {"kind": "time_to_recover_s_max", "window": "recovery", "limit": 10},
            {
                "kind": "time_to_recover_s_max",
                "window": "recovery",
                "name": "strict_recovery",
                "limit": 10,
                "p99_ms_max": 8,
            },
        ],
    }
    slo_set = slo_set_from_dict(document)
    plain, strict = slo_set.assertions[2:]
    assert (plain.availability_min, plain.p99_ms_max) == (0.995, 20)
    assert (strict.availability_min, strict.p99_ms_max) == (0.995, 8)
    assert strict.key == "recovery.strict_recovery"
    assert slo_set.rolling_window_s == 3


def test_default_names_follow_the_kind_and_status() -> None:
    document = {
        "name": "x",
        "assertions": [
            {"kind": "p99_9_ms_max", "window": "whole", "limit": 50},
            {"kind": "error_rate_max", "window": "fault", "limit": 0.1},
            {"kind": "error_rate_max", "window": "fault", "limit": 0.1, "status": "UNAVAILABLE"},
            {"kind": "error_rate_in_band", "window": "fault", "limit": [0, 1], "status": "ABORTED"},
        ],
    }
    names = [a.name for a in slo_set_from_dict(document).assertions]
    assert names == [
        "p99_9_ms",
        "error_rate",
        "error_rate_unavailable",
        "error_rate_aborted_in_band",
    ]
