"""Actions on the serving pods. Every action checks its blast radius before it acts and is
recorded in the target's fault journal (see ``tfsverify recover``)."""

from __future__ import annotations

import time

from tfsverify.chaos import context
from tfsverify.chaos.blast import check_disruption
from tfsverify.chaos.target import current_target
from tfsverify.errors import BadInput, TargetError

__all__ = ["terminate_serving_pods", "wait_for_ready_replicas"]

_POLL_S = 0.25


def terminate_serving_pods(count: int = 1, seed: int | None = None,
                           max_pct: float = 34) -> list[str]:
    """Force-delete ``count`` serving pods at once, like ``kubectl delete pod --grace-period=0
    --force``; their ReplicaSet replaces them.

    The pods are chosen without replacement by a generator seeded with ``seed`` (the same
    seed picks the same pods on the same deployment; no seed picks at random). Refused
    before anything is touched when ``count`` is above ``max_pct`` percent of the replicas
    (rounded down, at least one) or when the ready pods left would be fewer than the
    PodDisruptionBudget requires. Returns the names of the deleted pods.
    """
    target = current_target()
    ready = sum(1 for pod in target.pods() if pod.ready)
    check_disruption(count, target.desired_replicas(), ready, target.min_available(), max_pct)
    log = context.fault_log()
    fault = log.record("pod_kill", f"{count} serving pod(s), seed {seed}", context.experiment())
    killed = target.kill_pods(count, seed)
    log.mark_undone(fault.id, "replaced by the ReplicaSet")
    context.note(f"deleted {', '.join(killed)}")
    return killed


def wait_for_ready_replicas(timeout_s: float = 90, stable_s: float = 5) -> dict[str, float]:
    """Wait until every desired replica is ready and has stayed so for ``stable_s`` seconds
    (no pod Pending or Terminating meanwhile): a replacement that flaps does not count.

    Fails after ``timeout_s`` seconds. Returns ``{"ready": n, "waited_s": s}``. Put it in
    the method after a fault so that the fault window covers the replacement's start.
    """
    if timeout_s <= 0 or stable_s < 0:
        raise BadInput("timeout_s must be more than 0 and stable_s at least 0")
    target = current_target()
    wanted = target.desired_replicas()
    start = time.monotonic()
    deadline = start + timeout_s
    settled_since: float | None = None
    ready = 0
    while True:
        now = time.monotonic()
        pods = target.pods()
        ready = sum(1 for pod in pods if pod.ready)
        settled = ready >= wanted and all(pod.phase == "Running" for pod in pods)
        settled_since = (settled_since or now) if settled else None
        if settled_since is not None and now - settled_since >= stable_s:
            waited = round(now - start, 3)
            context.note(f"{ready}/{wanted} replicas ready, stable for {stable_s:g} s "
                         f"after {waited:g} s")
            return {"ready": ready, "waited_s": waited}
        if now > deadline:
            raise TargetError(f"{ready}/{wanted} replicas ready after {timeout_s:g} s")
        time.sleep(_POLL_S)
