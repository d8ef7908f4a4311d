"""Where a pod goes: the filters and scores of kube-scheduler that the local target models.

A pure function of the pod, the nodes and the pods already placed. Filters, in
kube-scheduler's order, each node stopping at the first that fails: NodeUnschedulable
(cordoned), TaintToleration (NoSchedule/NoExecute), NodeAffinity (nodeSelector),
NodeResourcesFit (cpu, memory, nvidia.com/gpu, pod count) and PodTopologySpread
(DoNotSchedule). Scores, best first: fewest untolerated PreferNoSchedule taints, then the
least crowded topology domains for ScheduleAnyway constraints (or kube-scheduler's system
default spreading over hostname and zone when the pod has none), then the node name.

When nothing fits, the reason reads like kube-scheduler's FitError:
``0/4 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present},
3 Insufficient nvidia.com/gpu.``
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from tfsverify.targets.local.spec import (
    GPU_RESOURCE,
    NodeSpec,
    PodTemplate,
    Resources,
    Taint,
    Toleration,
    TopologySpread,
)

UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", None, "NoSchedule")
HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEY = "topology.kubernetes.io/zone"
# Istio's default requests for the injected istio-proxy container
SIDECAR_REQUESTS = Resources(cpu_m=100, memory_b=128 * 1024**2)
# kube-scheduler's system default topology spreading (used when a pod declares none)
DEFAULT_SPREAD = (
    TopologySpread(max_skew=3, topology_key=HOSTNAME_KEY, when_unsatisfiable="ScheduleAnyway"),
    TopologySpread(max_skew=5, topology_key=ZONE_KEY, when_unsatisfiable="ScheduleAnyway"),
)


@dataclass(frozen=True)
class PodRequest:
    """What the scheduler needs to know about the pod to place."""

    namespace: str
    labels: dict[str, str]
    requests: Resources
    node_selector: dict[str, str]
    tolerations: tuple[Toleration, ...]
    topology_spread: tuple[TopologySpread, ...]
    spread_selector: dict[str, str]  # labelSelector of the spread constraints (the deployment's)


@dataclass(frozen=True)
class PlacedPod:
    """A pod already bound to a node (terminating pods hold resources but do not spread)."""

    node: str
    namespace: str
    labels: dict[str, str]
    requests: Resources
    terminating: bool = False


@dataclass(frozen=True)
class Decision:
    node: str | None  # None: the pod stays Pending
    reason: str  # "" when placed, else the FitError message


def pod_requests(template: PodTemplate) -> Resources:
    """The pod's requests: containers summed (a limit alone counts as the request), plus the
    injected sidecar's."""
    cpu = memory = gpu = 0
    for c in template.containers:
        cpu += c.requests.cpu_m or c.limits.cpu_m
        memory += c.requests.memory_b or c.limits.memory_b
        gpu += c.requests.gpu or c.limits.gpu
    if template.sidecar_injected:
        cpu += SIDECAR_REQUESTS.cpu_m
        memory += SIDECAR_REQUESTS.memory_b
    return Resources(cpu_m=cpu, memory_b=memory, gpu=gpu)


def pod_request_for(template: PodTemplate, namespace: str, selector: dict[str, str],
                    labels: dict[str, str]) -> PodRequest:
    return PodRequest(
        namespace=namespace, labels=labels, requests=pod_requests(template),
        node_selector=template.node_selector, tolerations=template.tolerations,
        topology_spread=template.topology_spread, spread_selector=selector,
    )


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Kubernetes' Toleration.ToleratesTaint."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator == "Exists":
        return True
    return (toleration.value or "") == (taint.value or "")


def _untolerated(taints: Sequence[Taint], tolerations: Sequence[Toleration],
                 effects: Collection[str]) -> list[Taint]:
    return [t for t in taints
            if t.effect in effects and not any(tolerates(tol, t) for tol in tolerations)]


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _fit_reasons(pod: PodRequest, node: NodeSpec, placed: Sequence[PlacedPod]) -> list[str]:
    on_node = [p for p in placed if p.node == node.name]
    free = node.allocatable
    used_cpu = sum(p.requests.cpu_m for p in on_node)
    used_mem = sum(p.requests.memory_b for p in on_node)
    used_gpu = sum(p.requests.gpu for p in on_node)
    reasons = []
    if len(on_node) + 1 > node.max_pods:
        reasons.append("Too many pods")
    if pod.requests.cpu_m and pod.requests.cpu_m > free.cpu_m - used_cpu:
        reasons.append("Insufficient cpu")
    if pod.requests.memory_b and pod.requests.memory_b > free.memory_b - used_mem:
        reasons.append("Insufficient memory")
    if pod.requests.gpu and pod.requests.gpu > free.gpu - used_gpu:
        reasons.append(f"Insufficient {GPU_RESOURCE}")
    return reasons


def _domain_counts(pod: PodRequest, key: str, nodes: Sequence[NodeSpec],
                   placed: Sequence[PlacedPod]) -> Counter[str]:
    """Matching pods per domain, over the nodes that pass the pod's nodeSelector."""
    eligible = {n.name: n.labels[key] for n in nodes
                if key in n.labels and _matches(pod.node_selector, n.labels)}
    counts: Counter[str] = Counter({domain: 0 for domain in eligible.values()})
    for p in placed:
        if (not p.terminating and p.node in eligible and p.namespace == pod.namespace
                and _matches(pod.spread_selector, p.labels)):
            counts[eligible[p.node]] += 1
    return counts


def _spread_reason(pod: PodRequest, node: NodeSpec, nodes: Sequence[NodeSpec],
                   placed: Sequence[PlacedPod]) -> str | None:
    self_match = 1 if _matches(pod.spread_selector, pod.labels) else 0
    for c in pod.topology_spread:
        if c.when_unsatisfiable != "DoNotSchedule":
            continue
        if c.topology_key not in node.labels:
            return "node(s) didn't match pod topology spread constraints (missing required label)"
        counts = _domain_counts(pod, c.topology_key, nodes, placed)
        low = min(counts.values(), default=0)
        if counts[node.labels[c.topology_key]] + self_match - low > c.max_skew:
            return "node(s) didn't match pod topology spread constraints"
    return None


def _filter(pod: PodRequest, node: NodeSpec, schedulable: bool, nodes: Sequence[NodeSpec],
            placed: Sequence[PlacedPod]) -> list[str]:
    """Why the node cannot take the pod (empty: it can)."""
    if not schedulable and not any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations):
        return ["node(s) were unschedulable"]
    hard = _untolerated(node.taints, pod.tolerations, ("NoSchedule", "NoExecute"))
    if hard:
        return [f"node(s) had untolerated taint {{{hard[0].key}: {hard[0].value or ''}}}"]
    if not _matches(pod.node_selector, node.labels):
        return ["node(s) didn't match Pod's node affinity/selector"]
    fit = _fit_reasons(pod, node, placed)
    if fit:
        return fit
    spread = _spread_reason(pod, node, nodes, placed)
    return [spread] if spread else []


def _score(pod: PodRequest, node: NodeSpec, nodes: Sequence[NodeSpec],
           placed: Sequence[PlacedPod]) -> tuple[int, int, str]:
    soft_taints = len(_untolerated(node.taints, pod.tolerations, ("PreferNoSchedule",)))
    constraints = pod.topology_spread or DEFAULT_SPREAD
    crowding = 0
    for c in constraints:
        if c.when_unsatisfiable != "ScheduleAnyway":
            continue
        if c.topology_key not in node.labels:
            crowding += len(placed) + 1
            continue
        crowding += _domain_counts(pod, c.topology_key, nodes, placed)[node.labels[c.topology_key]]
    return soft_taints, crowding, node.name


def schedule(pod: PodRequest, nodes: Sequence[NodeSpec], cordoned: Collection[str],
             placed: Sequence[PlacedPod]) -> Decision:
    """Pick the node for ``pod``, or say why none fits (kube-scheduler's wording)."""
    if not nodes:
        return Decision(None, "no nodes available to schedule pods")
    feasible: list[NodeSpec] = []
    reasons: Counter[str] = Counter()
    for node in nodes:
        failed = _filter(pod, node, node.name not in cordoned, nodes, placed)
        if failed:
            reasons.update(failed)
        else:
            feasible.append(node)
    if feasible:
        best = min(feasible, key=lambda n: _score(pod, n, nodes, placed))
        return Decision(best.name, "")
    detail = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return Decision(None, f"0/{len(nodes)} nodes are available: {', '.join(detail)}.")
