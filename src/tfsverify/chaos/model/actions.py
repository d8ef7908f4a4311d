"""Model rollout actions: move Predict traffic to the canary track by weight, and back.

The canary track is a second Deployment serving the new model version behind its own
DestinationRule subset (reference-deploy/components/canary); a rollout moves the
VirtualService route's weight between the stable and the canary destinations. Every change
is recorded in the fault journal first, so ``tfsverify recover`` returns the route to its
manifest weights after a crash.
"""

from __future__ import annotations

from typing import Any

from tfsverify.chaos import context
from tfsverify.chaos.blast import check_pct
from tfsverify.chaos.target import current_target
from tfsverify.errors import BadInput

__all__ = ["roll_back_model_rollout", "shift_traffic_to_model_version"]


def shift_traffic_to_model_version(version: int = 2, weight_pct: int = 20,
                                   max_weight_pct: float = 100) -> dict[str, Any]:
    """Send ``weight_pct`` percent of the Predict traffic to the track that serves model
    ``version`` and the rest to the other one: a canary step (0 rolls back, 100 promotes).

    Refused when ``weight_pct`` is above ``max_weight_pct`` (the cap of this action), or when
    the route does not have exactly two destinations of which one serves ``version``.
    Returns ``{"version", "weight_pct", "touched"}`` (the destinations whose weight changed).
    """
    if isinstance(weight_pct, bool) or not isinstance(weight_pct, int):
        raise BadInput(f"weight_pct={weight_pct!r}: a whole percentage from 0 to 100")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadInput(f"version={version!r}: a model version number (1 or more)")
    check_pct(weight_pct, max_weight_pct, "weight_pct")
    target = current_target()
    context.fault_log().record("route_weights", f"version {version} at {weight_pct} %",
                               context.experiment())
    touched = target.rollout_model(version, weight_pct)
    context.note(f"model version {version} takes {weight_pct} % of the traffic "
                 f"(changed: {', '.join(touched) or 'nothing'})")
    return {"version": version, "weight_pct": weight_pct, "touched": touched}


def roll_back_model_rollout() -> list[str]:
    """Return the route to the weights of the manifests (all traffic to the stable track)
    and clear any mesh fault; returns what the target touched."""
    target = current_target()
    log = context.fault_log()
    touched = target.clear_faults()
    for fault in log.open_faults():
        if fault.kind in ("route_weights", "grpc_fault"):
            log.mark_undone(fault.id, "returned the route to its manifest weights")
    context.note("route back to its manifest weights")
    return touched
