"""Profiles as data: the shipped files are valid; bad files fail with one line and a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfsverify.errors import BadInput
from tfsverify.load import load_profile

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
SHIPPED = sorted((ROOT / "scenarios" / "profiles").glob("*.yaml"))

BAD = {
    "negative-rate.yaml": "stages[1].rate_rps: -5 is less than the minimum of 0",
    "unknown-field.yaml": "rate: unknown field; allowed: ",
    "missing-duration.yaml": "(top): 'duration_s' is a required property",
    "unknown-kind.yaml": "kind: 'burst' is not one of",
    "not-a-mapping.yaml": "(top): [1, 2] is not of type 'object'",
    "bad-yaml.yaml": "not valid YAML at line 2",
    "wrong-type.yaml": "duration_s: 'ten' is not of type 'number'",
    "stage-extra-field.yaml": "stages[0].users: unknown field",
    "zero-batch.yaml": "batch_size: 0 is less than the minimum of 1",
    "zero-rate.yaml": "rate_rps: 0 is less than or equal to the minimum of 0",
}


def test_every_kind_is_shipped() -> None:
    names = {path.stem for path in SHIPPED}
    assert {"constant", "ramp", "step-sweep", "spike", "soak"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_profiles_are_valid(path: Path) -> None:
    profile = load_profile(path)
    assert profile.duration_s > 0 and profile.peak_rps > 0
    assert profile.sha256 is not None and profile.source == str(path)


def test_the_chaos_default_is_a_low_constant_rate() -> None:
    profile = load_profile(ROOT / "scenarios" / "profiles" / "constant.yaml")
    assert profile.kind == "constant" and profile.peak_rps <= 50


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_profile_is_one_line_naming_file_and_field(name: str) -> None:
    path = DATA / name
    with pytest.raises(BadInput) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert BAD[name] in message
    assert "\n" not in message


def test_every_bad_file_has_an_expectation() -> None:
    assert {p.name for p in DATA.glob("*.yaml")} == set(BAD)


def test_missing_profile_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such profile file"):
        load_profile(tmp_path / "nope.yaml")


def test_defaults_are_filled_in(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("kind: constant\nrate_rps: 5\nduration_s: 1\n")
    profile = load_profile(path)
    assert (profile.batch_size, profile.deadline_ms, profile.warmup_s) == (1, 1000.0, 0.0)
    assert profile.balancing == "round_robin" and profile.workers == 1
    assert profile.to_dict()["stages"] == [{"duration_s": 1.0, "rate_rps": 5.0, "to_rps": 5.0}]
