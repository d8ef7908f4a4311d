"""GPU placement actions and probes against an in-memory cluster of CPU and GPU nodes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tfsverify.chaos import context
from tfsverify.chaos.gpu import actions, probes
from tfsverify.chaos.nodes import actions as nodes
from tfsverify.chaos.target import use_target
from tfsverify.errors import BadInput
from tfsverify.targets.base import Node, Pod

from .conftest import FakeTarget


class GpuCluster(FakeTarget):
    """node-a (CPU) and gpu-node-a..c (one GPU each); serving pods pod-0 on gpu-node-a and
    pod-1, pod-2 on gpu-node-b, so gpu-node-c is spare. A drained pod goes to a free
    schedulable GPU node, else to node-a when ``gpu_only`` is off (the defect), else stays
    Pending."""

    def __init__(self, state_dir: Path, gpu_only: bool = True) -> None:
        super().__init__(state_dir)
        self.gpu_only = gpu_only
        self.names = ["node-a", "gpu-node-a", "gpu-node-b", "gpu-node-c"]
        self._pods = [Pod(f"pod-{i}", node, True, 0, f"127.0.0.{i + 1}:8500")
                      for i, node in enumerate(["gpu-node-a", "gpu-node-b", "gpu-node-b"])]

    def nodes(self) -> list[Node]:
        self._check()
        return [Node(n, n not in self.cordoned, 1 if n.startswith("gpu") else 0)
                for n in self.names]

    def drain_node(self, name: str) -> list[str]:
        self._check()
        self.cordoned.add(name)
        moved = [p.name for p in self._pods if p.node == name]
        used = {p.node for p in self._pods if p.node != name}
        free = [n.name for n in self.nodes() if n.gpu and n.schedulable and n.name not in used]
        to = free[0] if free else (None if self.gpu_only else "node-a")
        self._pods = [replace(p, node=to, ready=False, address=None,
                              phase="Running" if to else "Pending")
                      if p.node == name else p for p in self._pods]
        self.calls.append(f"drain {name}")
        return moved


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[GpuCluster]:
    target = GpuCluster(tmp_path / "state")
    use_target(target)
    context.set_experiment("gpu-node-drain")
    yield target
    use_target(None)
    context.set_experiment(None)


def test_healthy_placement_passes_the_preflight(cluster: GpuCluster) -> None:
    assert probes.gpu_pods_only_on_gpu_nodes() is True
    assert "3 serving pods on GPU nodes, 0 Pending, 3 GPU nodes" in (context.take_note() or "")
    assert probes.serving_pods_on_cpu_nodes() == 0
    assert context.take_note() == "serving pods on CPU nodes: none"


def test_a_pod_on_a_cpu_node_is_counted_and_named(cluster: GpuCluster) -> None:
    cluster._pods[2] = replace(cluster._pods[2], node="node-a")
    assert probes.serving_pods_on_cpu_nodes() == 1
    assert context.take_note() == "serving pods on CPU nodes: pod-2 on node-a"
    assert probes.gpu_pods_only_on_gpu_nodes() is False
    assert "pod-2 on node-a" in (context.take_note() or "")


def test_no_gpu_node_at_all_fails_the_preflight_with_a_note(cluster: GpuCluster) -> None:
    cluster.names = ["node-a"]
    assert probes.gpu_pods_only_on_gpu_nodes() is False
    assert "not a GPU target" in (context.take_note() or "")


def test_spare_gpu_nodes_are_cordoned_and_recorded(cluster: GpuCluster) -> None:
    assert actions.cordon_spare_gpu_nodes() == ["gpu-node-c"]
    assert cluster.cordoned == {"gpu-node-c"}
    assert [(f.kind, f.subject) for f in context.fault_log().open_faults()] == [
        ("cordon", "gpu-node-c")]
    assert actions.cordon_spare_gpu_nodes() == []  # nothing spare left
    assert "no spare GPU node" in (context.take_note() or "")


def test_drain_picks_a_busy_gpu_node_by_seed_and_uncordon_undoes_it(
        cluster: GpuCluster) -> None:
    result = actions.drain_gpu_node(seed=1)
    assert result["node"] in {"gpu-node-a", "gpu-node-b"}
    use_target(GpuCluster(cluster.state_dir))
    assert actions.drain_gpu_node(seed=1)["node"] == result["node"]
    use_target(cluster)
    assert "drained GPU node" in (context.take_note() or "")
    assert probes.drained_gpu_pods_placed_safely() is True  # moved to the spare gpu-node-c
    assert "starting on a GPU node" in (context.take_note() or "")
    assert nodes.uncordon_node() == [result["node"]]
    assert context.fault_log().open_faults() == []


def test_without_a_spare_gpu_the_pod_waits_pending(cluster: GpuCluster) -> None:
    actions.cordon_spare_gpu_nodes()
    actions.drain_gpu_node(name="gpu-node-a")
    assert probes.drained_gpu_pods_placed_safely() is True
    assert "Pending: pod-0" in (context.take_note() or "")
    assert probes.serving_pods_on_cpu_nodes() == 0
    assert sorted(nodes.uncordon_node()) == ["gpu-node-a", "gpu-node-c"]


def test_without_a_spare_gpu_the_defect_puts_the_pod_on_a_cpu_node(
        cluster: GpuCluster) -> None:
    cluster.gpu_only = False
    actions.cordon_spare_gpu_nodes()
    actions.drain_gpu_node(name="gpu-node-a")
    assert probes.drained_gpu_pods_placed_safely() is False
    assert "on a CPU node: pod-0 (node-a)" in (context.take_note() or "")
    assert probes.serving_pods_on_cpu_nodes() == 1
    assert probes.gpu_pods_only_on_gpu_nodes() is False


def test_drain_refuses_cpu_nodes_unknown_nodes_and_nothing_to_drain(
        cluster: GpuCluster) -> None:
    with pytest.raises(BadInput, match="not a GPU node"):
        actions.drain_gpu_node(name="node-a")
    with pytest.raises(BadInput, match="not found"):
        actions.drain_gpu_node(name="gpu-node-z")
    cluster._pods = [replace(p, node="node-a") for p in cluster._pods]
    with pytest.raises(BadInput, match="no schedulable GPU node holds a serving pod"):
        actions.drain_gpu_node()
    assert not [c for c in cluster.calls if c.startswith("drain")]
    assert context.fault_log().entries() == []


def test_the_published_contract() -> None:
    assert sorted(actions.__all__) == ["cordon_spare_gpu_nodes", "drain_gpu_node"]
    assert sorted(probes.__all__) == ["drained_gpu_pods_placed_safely",
                                      "gpu_pods_only_on_gpu_nodes", "serving_pods_on_cpu_nodes"]
