"""Model rollout actions and the answer-sampling probes."""

from __future__ import annotations

import pytest

from tfsverify.chaos import context
from tfsverify.chaos.model import actions as model
from tfsverify.chaos.model import probes as model_probes
from tfsverify.chaos.recover import recover
from tfsverify.errors import BadInput, TargetError
from tfsverify.load.sample import AnswerSample

from .conftest import FakeTarget


def test_a_rollout_step_is_recorded_and_the_rollback_undoes_it(fake_target: FakeTarget) -> None:
    result = model.shift_traffic_to_model_version(version=2, weight_pct=20)
    assert result == {"version": 2, "weight_pct": 20, "touched": ["canary", "stable"]}
    assert fake_target.canary_weight_pct == 20
    (open_fault,) = context.fault_log().open_faults()
    assert (open_fault.kind, open_fault.persistent) == ("route_weights", True)
    model.roll_back_model_rollout()
    assert fake_target.canary_weight_pct == 0
    assert context.fault_log().open_faults() == []


def test_recover_returns_the_route_to_its_manifest_weights(fake_target: FakeTarget) -> None:
    model.shift_traffic_to_model_version(version=2, weight_pct=50)
    done = recover(fake_target, context.fault_log())
    assert [d["kind"] for d in done] == ["route_weights"]
    assert fake_target.canary_weight_pct == 0 and fake_target.calls[-1] == "clear"


def test_rollout_steps_are_checked_before_anything_changes(fake_target: FakeTarget) -> None:
    with pytest.raises(BadInput, match="cap is 50"):
        model.shift_traffic_to_model_version(weight_pct=80, max_weight_pct=50)
    with pytest.raises(BadInput, match="whole percentage"):
        model.shift_traffic_to_model_version(weight_pct=12.5)  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="between 0 and 100"):
        model.shift_traffic_to_model_version(weight_pct=120)
    with pytest.raises(BadInput, match="version"):
        model.shift_traffic_to_model_version(version=0)
    assert fake_target.calls == [] and context.fault_log().entries() == []
    with pytest.raises(TargetError, match="version 3"):
        model.shift_traffic_to_model_version(version=3, weight_pct=10)


def sample(v1: int, v2: int, wrong: int = 0, failed: int = 0) -> AnswerSample:
    result = AnswerSample(v1 + v2 + wrong + failed, wrong=wrong)
    result.right_by_version.update({1: v1, 2: v2})
    if failed:
        result.failed_by_status["UNAVAILABLE"] = failed
    return result


@pytest.mark.parametrize(("measured", "share", "expected"), [
    (sample(80, 20), 20, True),
    (sample(72, 28), 20, True),
    (sample(65, 35), 20, False),  # more than 10 points off
    (sample(79, 20, wrong=1), 20, False),  # a wrong answer fails it whatever the share
    (sample(79, 20, failed=1), 20, False),  # so does a failed call
    (sample(0, 100), 100, True),
])
def test_share_probe(monkeypatch: pytest.MonkeyPatch, fake_target: FakeTarget,
                     measured: AnswerSample, share: float, expected: bool) -> None:
    monkeypatch.setattr(model_probes, "_sample", lambda requests: measured)
    assert model_probes.model_version_takes_share(2, share, 10) is expected
    assert model_probes.every_answer_right() is (measured.wrong == 0
                                                 and not measured.failed_by_status)
    shares = model_probes.answers_by_model_version()["right_pct_by_version"]
    assert shares == {"1": measured.share_pct(1), "2": measured.share_pct(2)}
