"""Checks of the serving pods."""

from __future__ import annotations

from tfsverify.chaos.target import current_target

__all__ = ["all_replicas_ready", "ready_pod_count", "restarts_total"]


def all_replicas_ready() -> bool:
    """True when at least the desired number of serving replicas is ready."""
    target = current_target()
    return sum(1 for pod in target.pods() if pod.ready) >= target.desired_replicas()


def ready_pod_count() -> int:
    """How many serving pods are ready now."""
    return sum(1 for pod in current_target().pods() if pod.ready)


def restarts_total() -> int:
    """Container restarts summed over the serving pods that exist now."""
    return sum(pod.restarts for pod in current_target().pods())
