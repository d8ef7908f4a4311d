"""Whether an eviction may go ahead: the Eviction API's PodDisruptionBudget check.

A pure function, as kube-apiserver and the disruption controller compute it:

- desired healthy = ``minAvailable`` (a percentage of the deployment's replicas, rounded
  up), or replicas minus ``maxUnavailable`` (a percentage rounded up; at least 0);
- current healthy = pods the budget selects that are ready and not terminating;
- a pod that is terminating, Pending or Failed is evicted without looking at the budget;
- an unready pod is evicted when the policy is ``AlwaysAllow``, or with ``IfHealthyBudget``
  when current healthy >= desired healthy;
- a ready pod is evicted when current healthy - desired healthy >= 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tfsverify.errors import BadInput
from tfsverify.targets.local.spec import DisruptionBudget


@dataclass(frozen=True)
class BudgetPod:
    """A pod as the budget sees it."""

    name: str
    namespace: str
    labels: dict[str, str]
    phase: str  # Pending | Running | Terminating | Failed
    ready: bool


def scaled_value(value: int | str, total: int) -> int:
    """An IntOrString against ``total``: "NN%" of it rounded up, or the integer itself."""
    if isinstance(value, int):
        return value
    text = value.strip()
    try:
        if text.endswith("%"):
            return math.ceil(int(text[:-1]) * total / 100)
        return int(text)
    except ValueError as exc:
        raise BadInput(f"PodDisruptionBudget value {value!r} is not an integer or a percentage") \
            from exc


def desired_healthy(budget: DisruptionBudget, replicas: int) -> int:
    """How many selected pods must stay healthy."""
    if budget.max_unavailable is not None:
        return max(0, replicas - scaled_value(budget.max_unavailable, replicas))
    if budget.min_available is not None:
        return scaled_value(budget.min_available, replicas)
    return 0


def selects(budget: DisruptionBudget, namespace: str, pod: BudgetPod) -> bool:
    return pod.namespace == namespace and all(
        pod.labels.get(k) == v for k, v in budget.selector.items()
    )


def eviction_blocked(budget: DisruptionBudget, namespace: str, replicas: int,
                     pods: Sequence[BudgetPod], pod: BudgetPod) -> str | None:
    """None when evicting ``pod`` is allowed, else why not (one line naming the budget)."""
    if pod.phase in ("Terminating", "Pending", "Failed") or not selects(budget, namespace, pod):
        return None
    desired = desired_healthy(budget, replicas)
    healthy = sum(1 for p in pods
                  if selects(budget, namespace, p) and p.ready and p.phase != "Terminating")
    if not pod.ready:
        if budget.unhealthy_pod_eviction_policy == "AlwaysAllow" or healthy >= desired:
            return None
    elif healthy - desired >= 1:
        return None
    return (f"Cannot evict pod {pod.name} as it would violate the pod's disruption budget "
            f"{budget.name} ({healthy} healthy, {desired} required)")
