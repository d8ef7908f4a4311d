"""GPU placement actions: take the spare GPUs away, then drain a GPU node.

Both record their cordons in the fault journal before they act, so the rollback
``tfsverify.chaos.nodes.actions.uncordon_node`` (without a name: every node tfsverify
cordoned) and ``tfsverify recover`` undo them.
"""

from __future__ import annotations

import random
from typing import Any

from tfsverify.chaos import context
from tfsverify.chaos.nodes.actions import drain_node
from tfsverify.chaos.target import current_target
from tfsverify.errors import BadInput

__all__ = ["cordon_spare_gpu_nodes", "drain_gpu_node"]


def _busy_gpu_nodes() -> dict[str, int]:
    """Schedulable GPU nodes that hold serving pods -> how many."""
    target = current_target()
    gpu = {n.name for n in target.nodes() if n.gpu > 0 and n.schedulable}
    held: dict[str, int] = {}
    for pod in target.pods():
        if pod.node in gpu and pod.phase != "Terminating":
            held[pod.node] = held.get(pod.node, 0) + 1
    return held


def cordon_spare_gpu_nodes() -> list[str]:
    """Cordon every schedulable GPU node that holds no serving pod, as when every GPU of the
    cluster is taken: a pod evicted next can then only wait (Pending) or, if its manifests
    let it, land on a CPU node. Cordoning evicts nothing (other pods on those nodes keep
    running). Returns the nodes cordoned (may be none)."""
    target = current_target()
    busy = _busy_gpu_nodes()
    spare = sorted(n.name for n in target.nodes()
                   if n.gpu > 0 and n.schedulable and n.name not in busy)
    log = context.fault_log()
    for node in spare:
        log.record("cordon", node, context.experiment())
        target.cordon_node(node)
    context.note(f"cordoned spare GPU nodes {', '.join(spare)}" if spare
                 else "no spare GPU node to cordon (every GPU node holds a serving pod)")
    return spare


def drain_gpu_node(name: str | None = None, seed: int | None = None,
                   timeout_s: float = 120) -> dict[str, Any]:
    """Drain a GPU node exactly as ``tfsverify.chaos.nodes.actions.drain_node`` does (cordon,
    evict its pods through the PodDisruptionBudget, mesh sidecars included).

    ``name`` names the node, which must have an allocatable ``nvidia.com/gpu``; without it
    one of the schedulable GPU nodes that hold a serving pod is drained, chosen by a
    generator seeded with ``seed``. Refused when no schedulable GPU node holds a serving pod.
    ``timeout_s`` bounds the drain (the node stays cordoned until ``uncordon_node``).
    Returns ``{"node", "evicted", "touched"}``.
    """
    target = current_target()
    gpu = {n.name: n.gpu for n in target.nodes()}
    if name is not None:
        if name not in gpu:
            raise BadInput(f"node {name} not found")
        if gpu[name] <= 0:
            raise BadInput(f"node {name} has no allocatable nvidia.com/gpu: not a GPU node")
        node = name
    else:
        busy = _busy_gpu_nodes()
        if not busy:
            raise BadInput("no schedulable GPU node holds a serving pod: nothing to drain")
        node = random.Random(seed).choice(sorted(busy))
    result = drain_node(name=node, timeout_s=timeout_s)
    context.note(f"drained GPU node {node} ({gpu[node]} GPU): evicted "
                 f"{', '.join(result['evicted']) or 'nothing'}")
    return result
