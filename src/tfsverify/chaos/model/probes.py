"""Model checks, asked through the mesh as the model-admin identity."""

from __future__ import annotations

from tfsverify.chaos import context
from tfsverify.chaos.target import current_target

__all__ = ["model_available"]


def model_available(name: str | None = None, version: int | None = None) -> bool:
    """True when model ``name`` (default: the deployment's model) has ``version`` (default:
    every version it reports) in state AVAILABLE."""
    target = current_target()
    status = target.model_status(name or "", version)  # "": the deployment's model
    context.note(", ".join(f"v{v}: {s}" for v, s in sorted(status.versions.items())))
    return bool(status.versions) and all(s == "AVAILABLE" for s in status.versions.values())
