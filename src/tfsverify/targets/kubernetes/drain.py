"""Cordon, drain and uncordon a node the way ``kubectl drain`` does, mesh pods included.

A drain cordons the node (annotating it ``tfsverify.io/cordoned-by`` so ``tfsverify recover``
knows whose cordon it is), then evicts every pod of the serving namespace on it through the
Eviction API, so the API server enforces the PodDisruptionBudget. Unlike chaosk8s'
``drain_nodes`` it does not skip pods with ``emptyDir`` volumes (every Istio-injected pod has
two) and it retries an eviction the budget refuses (HTTP 429) until the drain timeout. Like
``kubectl drain`` it returns once the evicted pods are gone: their replacements may stay
Pending (no free GPU elsewhere), and waiting for them to be Ready is the experiment's step.

The chaos runner's Role allows eviction in the serving namespace only: pods of other
namespaces on the node stay where they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client as kube_client

from tfsverify.errors import TargetError
from tfsverify.targets.kubernetes.client import (
    Kube,
    KubeNotFound,
    KubeTooManyRequests,
    content_type,
)
from tfsverify.targets.kubernetes.config import KubeSettings

CORDONED_BY = "tfsverify.io/cordoned-by"
CORDONED_BY_VALUE = "tfsverify"

Announce = Callable[[str], None]


def _patch_node(kube: Kube, name: str, body: dict[str, Any]) -> None:
    method = kube.core.patch_node
    kube.call("patch", "nodes", None, method, name, body,
              **content_type(method, "application/merge-patch+json"))


def read_node(kube: Kube, name: str) -> dict[str, Any]:
    return kube.call("get", "nodes", None, kube.core.read_node, name)


def cordon(kube: Kube, settings: KubeSettings, name: str, announce: Announce) -> bool:
    """Mark ``name`` unschedulable; False when it already was (somebody else's cordon)."""
    node = read_node(kube, name)
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    if settings.dry_run:
        announce(f"dry-run: would cordon node {name}")
        return True
    _patch_node(kube, name, {"spec": {"unschedulable": True},
                             "metadata": {"annotations": {CORDONED_BY: CORDONED_BY_VALUE}}})
    return True


def uncordon(kube: Kube, settings: KubeSettings, name: str, announce: Announce) -> list[str]:
    """Mark ``name`` schedulable again and drop tfsverify's cordon annotation."""
    read_node(kube, name)  # a missing node is an error, not a silent no-op
    if settings.dry_run:
        announce(f"dry-run: would uncordon node {name}")
        return [name]
    _patch_node(kube, name, {"spec": {"unschedulable": False},
                             "metadata": {"annotations": {CORDONED_BY: None}}})
    return [name]


def cordoned_by_us(kube: Kube) -> list[str]:
    """Nodes that carry tfsverify's cordon annotation (what ``recover`` uncordons)."""
    nodes = kube.call("list", "nodes", None, kube.core.list_node).get("items") or []
    return sorted(
        n["metadata"]["name"] for n in nodes
        if ((n["metadata"].get("annotations") or {}).get(CORDONED_BY)) == CORDONED_BY_VALUE
    )


def pods_on_node(kube: Kube, settings: KubeSettings, node: str) -> list[dict[str, Any]]:
    found = kube.call("list", "pods", settings.namespace, kube.core.list_namespaced_pod,
                      settings.namespace, field_selector=f"spec.nodeName={node}")
    return [p for p in found.get("items") or [] if not p["metadata"].get("deletionTimestamp")]


def evict(kube: Kube, settings: KubeSettings, pod: str, deadline: float) -> None:
    """Evict ``pod``, retrying while the disruption budget refuses (429) until ``deadline``."""
    body = kube_client.V1Eviction(
        api_version="policy/v1", kind="Eviction",
        metadata=kube_client.V1ObjectMeta(name=pod, namespace=settings.namespace),
    )
    while True:
        try:
            kube.call("create", "pods/eviction", settings.namespace,
                      kube.core.create_namespaced_pod_eviction, pod, settings.namespace, body)
            return
        except KubeNotFound:
            return  # gone already
        except KubeTooManyRequests as exc:
            if time.monotonic() + settings.poll_s > deadline:
                raise TargetError(f"drain: evicting {pod} was refused until the drain timeout "
                                  f"({settings.drain_timeout_s:g} s): {exc}") from exc
            time.sleep(settings.poll_s)


def wait_gone(list_serving: Callable[[], list[dict[str, Any]]], settings: KubeSettings,
              node: str, evicted: list[str], deadline: float) -> None:
    """Wait until no serving pod named in ``evicted`` is left."""
    while True:
        left = sorted(p["metadata"]["name"] for p in list_serving()
                      if p["metadata"]["name"] in evicted)
        if not left:
            return
        if time.monotonic() + settings.poll_s > deadline:
            raise TargetError(f"drain of node {node}: evicted pods still there after "
                              f"{settings.drain_timeout_s:g} s: {', '.join(left)}")
        time.sleep(settings.poll_s)
