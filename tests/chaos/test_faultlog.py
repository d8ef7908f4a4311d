"""The fault journal and `tfsverify recover`: replayable, idempotent, crash-tolerant."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfsverify.chaos.faultlog import FaultLog
from tfsverify.chaos.recover import recover
from tfsverify.errors import BadInput
from tfsverify.targets.base import GrpcFault, Target

from .conftest import FakeTarget


def test_open_faults_are_applied_minus_undone(tmp_path: Path) -> None:
    log = FaultLog(tmp_path / "faults.jsonl")
    cordon = log.record("cordon", "node-a", "node-drain")
    kill = log.record("pod_kill", "1 pod", "pod-kill")
    log.mark_undone(kill.id, "replaced")
    assert [f.id for f in log.open_faults()] == [cordon.id]
    assert log.open_faults()[0].persistent


def test_recover_undoes_cordons_and_mesh_faults_once(tmp_path: Path) -> None:
    target = FakeTarget(tmp_path)
    assert isinstance(target, Target)
    log = FaultLog(tmp_path / "faults.jsonl")
    target.drain_node("node-1")
    log.record("cordon", "node-1")
    target.inject_grpc_fault(GrpcFault("UNAVAILABLE", 20))
    log.record("grpc_fault", "abort 20%")
    log.record("sidecar_kill", "pod-0")

    done = recover(target, log)

    assert [d["kind"] for d in done] == ["cordon", "grpc_fault", "sidecar_kill"]
    assert target.cordoned == set()
    assert target.fault is None
    assert log.open_faults() == []
    calls = list(target.calls)
    assert recover(target, log) == []  # idempotent: nothing left, nothing called
    assert target.calls == calls


def test_recover_on_a_stopped_local_target_closes_the_faults(tmp_path: Path) -> None:
    target = FakeTarget(tmp_path)
    target.running = False
    log = FaultLog(tmp_path / "faults.jsonl")
    log.record("cordon", "node-1")
    done = recover(target, log)
    assert "not running" in done[0]["how"]
    assert log.open_faults() == []


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    log = FaultLog(tmp_path / "faults.jsonl")
    fault = log.record("cordon", "node-1")
    with log.path.open("a") as handle:
        handle.write('{"event": "undone", "id"')
    assert [f.id for f in log.open_faults()] == [fault.id]


def test_a_broken_line_in_the_middle_is_bad_input(tmp_path: Path) -> None:
    log = FaultLog(tmp_path / "faults.jsonl")
    log.path.write_text('not json\n{"event": "applied"}\n')
    with pytest.raises(BadInput, match=r"faults.jsonl:1"):
        log.open_faults()
