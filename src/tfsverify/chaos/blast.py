"""Blast radius: how much one action may take away, checked before it acts.

Two bounds, both must hold:

- a cap per action: at most ``max_pct`` percent of the deployment's replicas (rounded down,
  at least one) — the experiment file states the cap next to the count;
- never below the PodDisruptionBudget: the ready pods left after the action must still be
  at least the budget's required healthy pods (``minAvailable``, or replicas minus
  ``maxUnavailable``).

A refused action raises before anything is touched: :class:`~tfsverify.errors.BadInput`
when the experiment asks more than its cap allows, :class:`~tfsverify.errors.TargetError`
when the deployment is too degraded right now to lose more.
"""

from __future__ import annotations

import math

from tfsverify.errors import BadInput, TargetError


def cap(replicas: int, max_pct: float) -> int:
    """The most pods one action may take: ``max_pct`` % of ``replicas``, rounded down, >= 1."""
    if not 0 < max_pct <= 100:
        raise BadInput(f"max_pct={max_pct:g}: must be more than 0 and at most 100")
    return max(1, math.floor(replicas * max_pct / 100 + 1e-9))


def check_disruption(count: int, replicas: int, ready: int, min_available: int,
                     max_pct: float, what: str = "pods") -> None:
    """Raise unless taking ``count`` of ``ready`` pods keeps within the cap and the budget."""
    if count < 1:
        raise BadInput(f"count={count}: must be at least 1")
    limit = cap(replicas, max_pct)
    if count > limit:
        raise BadInput(f"refusing to disrupt {count} {what}: the cap is {limit} of {replicas} "
                       f"replicas (max_pct={max_pct:g})")
    if ready - count < min_available:
        raise TargetError(f"refusing to disrupt {count} {what}: {ready} ready, the disruption "
                          f"budget requires {min_available} (it would go below the PDB)")


def check_pct(value_pct: float, max_pct: float, what: str) -> None:
    """Raise BadInput unless ``0 <= value_pct <= max_pct``."""
    if not 0 <= value_pct <= 100:
        raise BadInput(f"{what}={value_pct:g}: must be between 0 and 100")
    if value_pct > max_pct:
        raise BadInput(f"refusing {what}={value_pct:g}: the cap is {max_pct:g} % (max_pct)")
