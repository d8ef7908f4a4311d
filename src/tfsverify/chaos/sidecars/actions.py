"""Actions on the mesh proxies (sidecars)."""

from __future__ import annotations

import random

from tfsverify.chaos import context
from tfsverify.chaos.blast import check_disruption
from tfsverify.chaos.target import current_target
from tfsverify.errors import BadInput

__all__ = ["kill_mesh_proxy"]


def kill_mesh_proxy(pod: str | None = None, seed: int | None = None,
                    max_pct: float = 34) -> list[str]:
    """SIGKILL the mesh proxy (``istio-proxy``) of one serving pod; the kubelet restarts it
    and the pod is unready until it is back, while the model server keeps running.

    ``pod`` names the pod; without it one ready pod is chosen by a generator seeded with
    ``seed``. Refused before anything is touched when losing one more ready pod would go
    below the PodDisruptionBudget. Returns ``["<pod>/istio-proxy"]``.
    """
    target = current_target()
    pods = target.pods()
    ready = sorted(p.name for p in pods if p.ready)
    if pod is None:
        if not ready:
            raise BadInput("no ready pod whose mesh proxy could be killed")
        pod = random.Random(seed).choice(ready)
    elif pod not in {p.name for p in pods}:
        raise BadInput(f"pod {pod} not found")
    check_disruption(1, target.desired_replicas(), len(ready), target.min_available(),
                     max_pct, what="mesh proxies")
    log = context.fault_log()
    fault = log.record("sidecar_kill", pod, context.experiment())
    touched = target.kill_sidecar(pod)
    log.mark_undone(fault.id, "restarted by the kubelet")
    context.note(f"killed {', '.join(touched)}")
    return touched
