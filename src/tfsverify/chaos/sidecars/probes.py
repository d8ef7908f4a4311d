"""Checks of the mesh proxies."""

from __future__ import annotations

from tfsverify.chaos.target import current_target

__all__ = ["all_mesh_proxies_ready"]


def all_mesh_proxies_ready() -> bool:
    """True when every running serving pod is ready (a pod is ready only when its mesh
    proxy is) and none is missing."""
    target = current_target()
    pods = [p for p in target.pods() if p.phase == "Running"]
    return len(pods) >= target.desired_replicas() and all(p.ready for p in pods)
