"""Checks of where the serving pods run: on GPU nodes, Pending, or (the failure) on CPU nodes.

A GPU node is a node with allocatable ``nvidia.com/gpu`` (``Node.gpu > 0``), cordoned or
not. A pod on any other node, or on a node the target does not list, is on a CPU node.
The serving pods are the serving Deployment's (``Target.pods()``): a canary track's pods
are not among them.
"""

from __future__ import annotations

from tfsverify.chaos import context
from tfsverify.chaos.target import current_target
from tfsverify.targets.base import Node, Pod

__all__ = [
    "drained_gpu_pods_placed_safely",
    "gpu_pods_only_on_gpu_nodes",
    "serving_pods_on_cpu_nodes",
]


def _gpu_nodes(nodes: list[Node]) -> set[str]:
    return {n.name for n in nodes if n.gpu > 0}


def _on_cpu(pods: list[Pod], gpu_nodes: set[str]) -> list[Pod]:
    return [p for p in pods if p.node is not None and p.node not in gpu_nodes]


def serving_pods_on_cpu_nodes() -> int:
    """How many serving pods are bound to a node with no allocatable GPU: must be 0.
    Pending pods (bound to no node) do not count. The report's note names them and their
    nodes."""
    target = current_target()
    misplaced = _on_cpu(target.pods(), _gpu_nodes(target.nodes()))
    context.note("serving pods on CPU nodes: " + (
        ", ".join(f"{p.name} on {p.node}" for p in misplaced) or "none"))
    return len(misplaced)


def gpu_pods_only_on_gpu_nodes() -> bool:
    """True when the target has at least one GPU node and no serving pod is bound to a node
    without one (Pending pods are fine: they wait for a GPU). False when there is no GPU
    node at all: a GPU deployment cannot be verified on such a target."""
    target = current_target()
    gpu_nodes = _gpu_nodes(target.nodes())
    if not gpu_nodes:
        context.note("no node has an allocatable nvidia.com/gpu: not a GPU target")
        return False
    pods = target.pods()
    misplaced = _on_cpu(pods, gpu_nodes)
    if misplaced:
        context.note("serving pods on nodes without a GPU: " + ", ".join(
            f"{p.name} on {p.node}" for p in misplaced))
        return False
    pending = sum(1 for p in pods if p.node is None)
    context.note(f"{len(pods) - pending} serving pods on GPU nodes, {pending} Pending, "
                 f"{len(gpu_nodes)} GPU nodes")
    return True


def _drained_node() -> str | None:
    cordons = [f for f in context.fault_log().open_faults() if f.kind == "cordon"]
    return cordons[-1].subject if cordons else None


def drained_gpu_pods_placed_safely(name: str | None = None) -> bool:
    """Where the pods of a drained GPU node went, as a verdict: True when no serving pod is
    left on node ``name`` and every serving pod is either on a GPU node (ready, or still
    starting) or Pending (no node fits: what Kubernetes does when no GPU is free). A pod on
    a CPU node makes it False. Without ``name``: the node tfsverify cordoned last (the
    drain's, fault journal). The report's note says where each pod is."""
    target = current_target()
    node = name or _drained_node()
    gpu_nodes = _gpu_nodes(target.nodes())
    places: dict[str, list[str]] = {"left on the drained node": [], "ready on a GPU node": [],
                                    "starting on a GPU node": [], "Pending": [],
                                    "on a CPU node": []}
    for pod in target.pods():
        if node is not None and pod.node == node:
            where = "left on the drained node"
        elif pod.node is None:
            where = "Pending"
        elif pod.node not in gpu_nodes:
            where = "on a CPU node"
        else:
            where = "ready on a GPU node" if pod.ready else "starting on a GPU node"
        places[where].append(pod.name if pod.node is None else f"{pod.name} ({pod.node})")
    context.note(f"after the drain of {node or 'no node'}: " + "; ".join(
        f"{where}: {', '.join(names)}" for where, names in places.items() if names))
    return not places["left on the drained node"] and not places["on a CPU node"]
