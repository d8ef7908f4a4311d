"""Actions and probes against the in-memory target: blast radius, fault journal, choices."""

from __future__ import annotations

import pytest

from tfsverify.chaos import blast, context
from tfsverify.chaos.mesh import actions as mesh
from tfsverify.chaos.mesh import probes as mesh_probes
from tfsverify.chaos.nodes import actions as nodes
from tfsverify.chaos.nodes import probes as node_probes
from tfsverify.chaos.pods import actions as pods
from tfsverify.chaos.pods import probes as pod_probes
from tfsverify.chaos.sidecars import actions as sidecars
from tfsverify.errors import BadInput, TargetError

from .conftest import FakeTarget


@pytest.mark.parametrize(("replicas", "pct", "expected"),
                         [(3, 34, 1), (3, 67, 2), (10, 25, 2), (2, 10, 1), (3, 100, 3)])
def test_cap_is_a_share_of_the_replicas_rounded_down_at_least_one(
        replicas: int, pct: float, expected: int) -> None:
    assert blast.cap(replicas, pct) == expected


def test_never_below_the_budget() -> None:
    blast.check_disruption(1, replicas=3, ready=3, min_available=2, max_pct=34)
    with pytest.raises(TargetError, match="below the PDB"):
        blast.check_disruption(1, replicas=3, ready=2, min_available=2, max_pct=34)
    with pytest.raises(BadInput, match="cap is 1 of 3"):
        blast.check_disruption(2, replicas=3, ready=3, min_available=0, max_pct=34)


def test_terminate_is_seeded_and_recorded_then_marked_healed(fake_target: FakeTarget) -> None:
    first = pods.terminate_serving_pods(count=1, seed=7)
    again = FakeTarget(fake_target.state_dir).kill_pods(1, 7)
    assert first == again
    entries = context.fault_log().entries()
    assert [e["event"] for e in entries] == ["applied", "undone"]
    assert entries[0]["kind"] == "pod_kill" and entries[0]["experiment"] == "test-experiment"
    assert pod_probes.ready_pod_count() == 2
    assert not pod_probes.all_replicas_ready()


def test_terminate_refuses_before_touching_anything(fake_target: FakeTarget) -> None:
    pods.terminate_serving_pods(count=1, seed=1)
    with pytest.raises(TargetError, match="below the PDB"):
        pods.terminate_serving_pods(count=1, seed=2)
    with pytest.raises(BadInput, match="cap"):
        pods.terminate_serving_pods(count=3, max_pct=100 / 3)
    assert len([c for c in fake_target.calls if c.startswith("kill")]) == 1
    assert len(context.fault_log().entries()) == 2


def test_drain_records_a_cordon_that_uncordon_undoes(fake_target: FakeTarget) -> None:
    result = nodes.drain_node(seed=3)
    node = result["node"]
    assert node in fake_target.cordoned
    assert [f.subject for f in context.fault_log().open_faults()] == [node]
    assert node_probes.pods_moved_off_node() is True
    assert node_probes.cordoned_nodes() == [node]
    assert nodes.uncordon_node() == [node]
    assert fake_target.cordoned == set()
    assert context.fault_log().open_faults() == []
    assert nodes.uncordon_node() == []  # nothing left: a second rollback is harmless


def test_kill_mesh_proxy_picks_a_ready_pod_by_seed(fake_target: FakeTarget) -> None:
    touched = sidecars.kill_mesh_proxy(seed=11)
    assert touched[0].endswith("/istio-proxy")
    assert touched == sidecars.kill_mesh_proxy(seed=11)
    with pytest.raises(BadInput, match="not found"):
        sidecars.kill_mesh_proxy(pod="nope")


def test_grpc_fault_is_capped_validated_and_cleared(fake_target: FakeTarget) -> None:
    with pytest.raises(BadInput, match="cap is 50"):
        mesh.inject_grpc_fault(abort_pct=80)
    with pytest.raises(BadInput, match="not a gRPC status"):
        mesh.inject_grpc_fault(abort_status="NOPE")
    mesh.inject_grpc_fault(abort_status="UNAVAILABLE", abort_pct=20, delay_ms=50, delay_pct=10)
    assert fake_target.fault is not None and fake_target.fault.abort_pct == 20
    assert [f.kind for f in context.fault_log().open_faults()] == ["grpc_fault"]
    mesh.clear_grpc_faults()
    assert fake_target.fault is None
    assert context.fault_log().open_faults() == []


def test_security_probes_return_the_check_and_leave_a_note(fake_target: FakeTarget) -> None:
    assert mesh_probes.foreign_ca_rejected() is True
    assert context.take_note() == "foreign_ca_rejected: fake"
