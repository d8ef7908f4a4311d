"""The results document from activity records and the journal: windows, verdicts, status."""

from __future__ import annotations

from tfsverify.chaos.results import (
    hypothesis_verdicts,
    journal_error,
    run_verdict,
    touched_by,
)
from tfsverify.slo import split_windows

T0 = 1_800_000_000.0


def _rows(seconds: int) -> list[dict[str, object]]:
    return [{"start_unix": T0 + i, "warmup": i < 3, "sent": 40, "ok": 40, "wrong": 0,
             "failed": 0, "failed_by_status": {}, "hdr": None} for i in range(seconds)]


def _activity(phase: str, kind: str, start: float, end: float) -> dict[str, object]:
    return {"name": f"{phase}-{kind}", "type": kind, "phase": phase,
            "start_unix": T0 + start, "end_unix": T0 + end}


def test_windows_from_the_control_records() -> None:
    activities = [
        _activity("hypothesis-before", "probe", 9.0, 9.1),
        _activity("method", "action", 9.2, 9.3),
        _activity("method", "action", 9.3, 25.4),
        _activity("hypothesis-after", "probe", 25.5, 25.6),
        _activity("rollback", "action", 25.6, 26.2),
    ]
    windows = split_windows(_rows(35), activities)
    assert windows["baseline"] == (T0 + 3, T0 + 9)
    assert windows["fault"] == (T0 + 9, T0 + 27)  # to the rollback's end, whole seconds
    assert windows["recovery"] == (T0 + 27, T0 + 35)


def test_without_a_method_the_whole_run_is_baseline() -> None:
    activities = [_activity("hypothesis-before", "probe", 9.0, 9.1)]
    assert set(split_windows(_rows(20), activities)) == {"baseline", "whole"}


def test_hypothesis_probes_become_verdicts() -> None:
    journal = {"steady_states": {
        "before": {"probes": [{"activity": {"name": "ready", "tolerance": True},
                               "output": True, "status": "succeeded", "tolerance_met": True}]},
        "after": {"probes": [{"activity": {"name": "ready", "tolerance": True},
                              "output": False, "status": "succeeded",
                              "tolerance_met": False}]}}}
    verdicts = hypothesis_verdicts("pod-kill", journal, {"hypothesis-after:ready": "2/3 ready"})
    assert [(v["id"], v["passed"]) for v in verdicts] == [
        ("pod-kill.hypothesis-before.ready", True), ("pod-kill.hypothesis-after.ready", False)]
    assert verdicts[1]["detail"] == "2/3 ready"


def test_method_probes_with_a_tolerance_become_verdicts_too() -> None:
    """The Chaos Toolkit ignores a method probe's tolerance; tfsverify holds it to it."""
    journal = {"run": [
        {"activity": {"type": "action", "name": "shift"}, "status": "succeeded", "output": []},
        {"activity": {"type": "probe", "name": "share", "tolerance": True},
         "status": "succeeded", "output": False},
        {"activity": {"type": "probe", "name": "count", "tolerance": [0, 2]},
         "status": "succeeded", "output": 1},
        {"activity": {"type": "probe", "name": "raised", "tolerance": True},
         "status": "failed", "output": None, "exception": ["TargetError: gone\n"]},
        {"activity": {"type": "probe", "name": "no-tolerance"}, "status": "succeeded",
         "output": 3},
    ]}
    verdicts = hypothesis_verdicts("model-rollout", journal, {"method:share": "v2 at 3 %"})
    assert [(v["id"], v["passed"]) for v in verdicts] == [
        ("model-rollout.method.share", False), ("model-rollout.method.count", True),
        ("model-rollout.method.raised", False)]
    assert verdicts[0]["detail"] == "v2 at 3 %"
    assert verdicts[2]["detail"] == "the probe raised: TargetError: gone"


def test_journal_error_names_the_activity_that_raised() -> None:
    journal = {"run": [{"activity": {"name": "drain"}, "status": "failed",
                        "exception": ["Traceback", "ActivityFailed: drain timed out\n"]}]}
    assert journal_error(journal) == "drain failed: ActivityFailed: drain timed out"
    assert journal_error({"run": [{"status": "succeeded"}]}) is None


def test_run_verdict() -> None:
    ok = {"status": "completed", "verdicts": [{"passed": True}]}
    assert run_verdict([ok]) == "pass"
    assert run_verdict([ok, {"status": "completed", "verdicts": [{"passed": False}]}]) == "breach"
    assert run_verdict([ok, {"status": "completed", "deviated": True, "verdicts": []}]) == "breach"
    assert run_verdict([ok, {"status": "failed", "error": "x failed", "verdicts": []}]) == "error"


def test_touched_from_outputs() -> None:
    assert touched_by(["pod-a"]) == ["pod-a"]
    assert touched_by({"node": "n", "touched": ["n", "pod-b"]}) == ["n", "pod-b"]
    assert touched_by(3) == []
