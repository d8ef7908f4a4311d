"""Kubernetes objects (decoded JSON) read as the Target protocol's dataclasses."""

from __future__ import annotations

from typing import Any

from tfsverify.targets.base import Node, Pod

SIDECAR = "istio-proxy"


def label_selector(match_labels: dict[str, str]) -> str:
    """``matchLabels`` as a label selector string (``a=b,c=d``)."""
    return ",".join(f"{key}={value}" for key, value in sorted(match_labels.items()))


def is_ready(pod: dict[str, Any]) -> bool:
    """The pod's Ready condition (not its phase: a Running pod may still load its model)."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def restarts(pod: dict[str, Any]) -> int:
    """Restarts of every container, native sidecars (restartable init containers) included."""
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def container_restarts(pod: dict[str, Any], container: str) -> int:
    status = pod.get("status") or {}
    for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if s.get("name") == container:
            return int(s.get("restartCount") or 0)
    return 0


def phase(pod: dict[str, Any]) -> str:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return str((pod.get("status") or {}).get("phase") or "Pending")


def to_pod(pod: dict[str, Any], grpc_port: int) -> Pod:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    ip = status.get("podIP")
    return Pod(
        name=meta["name"],
        node=spec.get("nodeName"),
        ready=is_ready(pod),
        restarts=restarts(pod),
        address=f"{ip}:{grpc_port}" if ip else None,
        phase=phase(pod),
        labels=dict(meta.get("labels") or {}),
    )


def to_node(node: dict[str, Any]) -> Node:
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    return Node(
        name=node["metadata"]["name"],
        schedulable=not (node.get("spec") or {}).get("unschedulable", False),
        gpu=int(str(allocatable.get("nvidia.com/gpu", "0")) or 0),
        labels=dict(node["metadata"].get("labels") or {}),
    )


def sidecar_kind(pod: dict[str, Any]) -> str | None:
    """``classic`` (a regular container), ``native`` (an init container with restartPolicy
    Always, Istio's native sidecar mode) or None when the pod has no ``istio-proxy``."""
    spec = pod.get("spec") or {}
    if any(c.get("name") == SIDECAR for c in spec.get("containers") or []):
        return "classic"
    for c in spec.get("initContainers") or []:
        if c.get("name") == SIDECAR and c.get("restartPolicy") == "Always":
            return "native"
    return None


def ready_addresses(slices: list[dict[str, Any]], port_name: str, default_port: int) -> list[str]:
    """host:port of every ready endpoint of a Service's EndpointSlices."""
    found: list[str] = []
    for item in slices:
        ports = [p for p in item.get("ports") or [] if p.get("name") == port_name]
        port = int(ports[0]["port"]) if ports else default_port
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            found.extend(f"{address}:{port}" for address in endpoint.get("addresses") or [])
    return sorted(found)
