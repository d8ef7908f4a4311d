"""The v1 Node objects of an overlay: the cluster the local target places its pods on.

Each resource (``cpu``, ``memory``, ``pods``, ``nvidia.com/gpu``) is read from
``status.allocatable``, else from ``status.capacity``; a node with neither has none of it
(and room for Kubernetes' default 110 pods). Labels and ``spec.taints`` are honoured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tfsverify.targets.local.fields import (
    Where,
    as_choice,
    as_list,
    as_map,
    as_str,
    as_str_map,
    parsed,
)
from tfsverify.targets.local.quantities import parse_count, parse_cpu_m, parse_memory_b
from tfsverify.targets.local.spec import GPU_RESOURCE, NodeSpec, Resources, Taint

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
DEFAULT_MAX_PODS = 110


def build_node(obj: dict[str, Any]) -> NodeSpec:
    """A Node object -> :class:`NodeSpec`."""
    where = Where.of(obj)
    metadata = as_map(where, "metadata", obj.get("metadata"))
    spec = as_map(where, "spec", obj.get("spec"))
    status = as_map(where, "status", obj.get("status"))
    sources = {
        part: as_map(where, f"status.{part}", status.get(part))
        for part in ("allocatable", "capacity")
    }

    def amount(key: str, parse: Callable[[Any], int], default: int) -> int:
        for part, values in sources.items():
            if key in values:
                return parsed(where, f"status.{part}.{key}", values[key], parse)
        return default

    return NodeSpec(
        name=where.name,
        labels=as_str_map(where, "metadata.labels", metadata.get("labels")),
        taints=_taints(where, spec.get("taints")),
        allocatable=Resources(
            cpu_m=amount("cpu", parse_cpu_m, 0),
            memory_b=amount("memory", parse_memory_b, 0),
            gpu=amount(GPU_RESOURCE, parse_count, 0),
        ),
        max_pods=amount("pods", parse_count, DEFAULT_MAX_PODS),
    )


def _taints(where: Where, raw: Any) -> tuple[Taint, ...]:
    taints = []
    for i, item in enumerate(as_list(where, "spec.taints", raw)):
        entry = as_map(where, f"spec.taints[{i}]", item)
        value = entry.get("value")
        taints.append(Taint(
            key=as_str(where, f"spec.taints[{i}].key", entry.get("key")),
            value=as_str(where, f"spec.taints[{i}].value", value) if value else None,
            effect=as_choice(where, f"spec.taints[{i}].effect", entry.get("effect"),
                             TAINT_EFFECTS),
        ))
    return tuple(taints)
