"""The open-loop schedule: intended send times for every kind of profile."""

from __future__ import annotations

import math

import pytest

from tfsverify.load import Profile, Stage, profile_from_dict
from tfsverify.load.schedule import intended_offsets, is_warmup, rate_at, segments, total_s


def per_second(offsets: list[float], seconds: int) -> list[int]:
    counts = [0] * seconds
    for offset in offsets:
        counts[int(offset)] += 1
    return counts


def test_constant_rate_sends_request_i_at_i_over_rate() -> None:
    profile = profile_from_dict({"kind": "constant", "rate_rps": 40, "duration_s": 3})
    offsets = list(intended_offsets(segments(profile)))
    assert len(offsets) == 120
    assert offsets == pytest.approx([i / 40 for i in range(120)])


def test_ramp_from_zero_follows_the_integral_of_the_rate() -> None:
    profile = profile_from_dict({"kind": "ramp", "from_rps": 0, "to_rps": 100, "duration_s": 10})
    offsets = list(intended_offsets(segments(profile)))
    # N(t) = 100 * t**2 / (2 * 10) = 5 t**2, so request i is due at sqrt(i / 5)
    assert len(offsets) == 500
    assert offsets == pytest.approx([math.sqrt(i / 5) for i in range(500)])
    assert per_second(offsets, 10) == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]


def test_falling_ramp_then_hold() -> None:
    profile = profile_from_dict(
        {"kind": "ramp", "from_rps": 30, "to_rps": 10, "duration_s": 2, "hold_s": 2}
    )
    counts = per_second(list(intended_offsets(segments(profile))), 4)
    assert counts == [25, 15, 10, 10]


def test_step_sweep_sends_each_stage_at_its_rate() -> None:
    profile = profile_from_dict(
        {
            "kind": "step",
            "stages": [
                {"rate_rps": 10, "duration_s": 2},
                {"rate_rps": 0, "duration_s": 1},
                {"rate_rps": 50, "duration_s": 1},
            ],
        }
    )
    counts = per_second(list(intended_offsets(segments(profile))), 4)
    # the zero-rate stage's only request is the boundary one that opens it
    assert counts == [10, 10, 1, 49]
    assert sum(counts) == 20 + 50


def test_spike_jumps_and_comes_back() -> None:
    profile = profile_from_dict(
        {"kind": "spike", "base_rps": 5, "spike_rps": 50, "before_s": 2, "spike_s": 1, "after_s": 2}
    )
    counts = per_second(list(intended_offsets(segments(profile))), 5)
    assert counts == [5, 5, 50, 5, 5]
    assert rate_at(segments(profile), 2.5) == 50
    assert rate_at(segments(profile), 5.0) is None


def test_warmup_is_prepended_at_the_first_rate_and_flagged() -> None:
    profile = profile_from_dict(
        {"kind": "ramp", "from_rps": 10, "to_rps": 20, "duration_s": 2, "warmup_s": 1}
    )
    plan = segments(profile)
    assert total_s(plan) == 3
    assert plan[0].warmup and plan[0].stage == Stage(1, 10, 10)
    assert is_warmup(plan, 0.99) and not is_warmup(plan, 1.0)
    # N(t) = 10 t + 2.5 t**2 after the warm-up: 12.5 requests in the first second
    assert per_second(list(intended_offsets(plan)), 3) == [10, 13, 17]


def test_worker_shares_interleave_into_the_whole_schedule() -> None:
    profile = profile_from_dict({"kind": "ramp", "from_rps": 3, "to_rps": 70, "duration_s": 4})
    plan = segments(profile)
    whole = list(intended_offsets(plan))
    shares = [list(intended_offsets(plan, worker=k, workers=3)) for k in range(3)]
    assert sorted(x for share in shares for x in share) == whole
    assert shares[1] == whole[1::3]


def test_overrides_scale_the_shape() -> None:
    profile = profile_from_dict(
        {"kind": "spike", "base_rps": 10, "spike_rps": 40, "before_s": 4, "spike_s": 2}
    )
    scaled = profile.with_overrides(rate_rps=80, duration_s=3)
    assert scaled.stages == (Stage(2, 20, 20), Stage(1, 80, 80))
    assert isinstance(scaled, Profile) and scaled.peak_rps == 80
