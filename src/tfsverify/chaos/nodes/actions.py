"""Node actions: drain (cordon + evict through the PodDisruptionBudget) and uncordon.

A drain is recorded in the fault journal as a cordon before it starts; ``uncordon_node``
marks it undone, and ``tfsverify recover`` uncordons what a crashed run left cordoned.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from tfsverify.chaos import context
from tfsverify.chaos.target import current_target
from tfsverify.errors import BadInput, TargetError

__all__ = ["drain_node", "uncordon_node"]


def _pick_node(seed: int | None) -> str:
    target = current_target()
    schedulable = {n.name for n in target.nodes() if n.schedulable}
    held = Counter(p.node for p in target.pods() if p.node in schedulable)
    if not held:
        raise BadInput("no schedulable node holds a serving pod: nothing to drain")
    most = max(held.values())
    return random.Random(seed).choice(sorted(n for n, c in held.items() if c == most))


def drain_node(name: str | None = None, seed: int | None = None,
               timeout_s: float = 120) -> dict[str, Any]:
    """Drain a node like ``kubectl drain --delete-emptydir-data --ignore-daemonsets``:
    cordon it, then evict its serving pods through the PodDisruptionBudget (an eviction the
    budget refuses is retried every second), mesh sidecars included, and wait until they
    are gone. Their ReplicaSet recreates them on other nodes.

    ``name`` names the node; without it the schedulable node holding the most serving pods
    is drained (ties broken by a generator seeded with ``seed``). Fails after ``timeout_s``
    seconds (the node stays cordoned until ``uncordon_node``). Refused when no other
    schedulable node could take the pods. Returns ``{"node", "evicted", "touched"}``.
    """
    target = current_target()
    node = name or _pick_node(seed)
    nodes = {n.name: n for n in target.nodes()}
    if node not in nodes:
        raise BadInput(f"node {node} not found")
    others = [n for n in nodes.values() if n.name != node and n.schedulable]
    if not others:
        raise TargetError(f"refusing to drain {node}: no other schedulable node")
    log = context.fault_log()
    log.record("cordon", node, context.experiment())
    evicted = target.drain_node(node)
    context.note(f"drained {node}: evicted {', '.join(evicted) or 'nothing'}")
    return {"node": node, "evicted": evicted, "touched": [node, *evicted]}


def uncordon_node(name: str | None = None) -> list[str]:
    """Make a node schedulable again. Without ``name``: every node that tfsverify cordoned
    and did not uncordon yet (from the fault journal). Returns the nodes uncordoned."""
    target = current_target()
    log = context.fault_log()
    cordons = [f for f in log.open_faults() if f.kind == "cordon"]
    names = [name] if name else sorted({f.subject for f in cordons})
    for node in names:
        target.uncordon_node(node)
        for fault in cordons:
            if fault.subject == node:
                log.mark_undone(fault.id, f"uncordoned node {node}")
    context.note(f"uncordoned {', '.join(names) or 'nothing (no node was cordoned)'}")
    return names
