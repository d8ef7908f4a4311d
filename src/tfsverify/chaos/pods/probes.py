"""Checks of the serving pods."""

from __future__ import annotations

from tfsverify.chaos import context
from tfsverify.chaos.target import current_target

__all__ = [
    "all_replicas_ready",
    "disruption_budget_protects_serving",
    "ready_pod_count",
    "restarts_total",
]


def all_replicas_ready() -> bool:
    """True when at least the desired number of serving replicas is ready."""
    target = current_target()
    return sum(1 for pod in target.pods() if pod.ready) >= target.desired_replicas()


def disruption_budget_protects_serving() -> bool:
    """True when a PodDisruptionBudget keeps at least one serving replica ready through
    voluntary disruptions (node drains, evictions) and still lets one go: the pods it
    requires are at least 1 and fewer than the desired replicas. False without a budget, with
    one that requires nothing (e.g. a single replica with ``maxUnavailable: 1``), or with one
    that blocks every eviction (a drain would hang)."""
    target = current_target()
    required, desired = target.min_available(), target.desired_replicas()
    context.note(f"the disruption budget requires {required} of {desired} replicas ready")
    return 1 <= required < desired


def ready_pod_count() -> int:
    """How many serving pods are ready now."""
    return sum(1 for pod in current_target().pods() if pod.ready)


def restarts_total() -> int:
    """Container restarts summed over the serving pods that exist now."""
    return sum(pod.restarts for pod in current_target().pods())
