"""Checks of the nodes."""

from __future__ import annotations

from tfsverify.chaos import context
from tfsverify.chaos.target import current_target

__all__ = ["cordoned_nodes", "pods_moved_off_node"]


def cordoned_nodes() -> list[str]:
    """Names of the nodes that are not schedulable now."""
    return sorted(n.name for n in current_target().nodes() if not n.schedulable)


def pods_moved_off_node(name: str | None = None) -> bool:
    """True when no serving pod runs on node ``name`` any more and every desired replica is
    ready elsewhere. Without ``name``: the node tfsverify cordoned last (fault journal)."""
    target = current_target()
    if name is None:
        cordons = [f for f in context.fault_log().open_faults() if f.kind == "cordon"]
        if not cordons:
            return False
        name = cordons[-1].subject
    pods = target.pods()
    on_node = [p.name for p in pods if p.node == name]
    ready_elsewhere = sum(1 for p in pods if p.ready and p.node != name)
    context.note(f"on {name}: {', '.join(on_node) or 'no pod'}; "
                 f"{ready_elsewhere} ready elsewhere")
    return not on_node and ready_elsewhere >= target.desired_replicas()
