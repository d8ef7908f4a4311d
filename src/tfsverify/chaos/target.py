"""The target the actions and probes act on, chosen once from the environment.

``TFSVERIFY_TARGET`` selects it (see :mod:`tfsverify.targets.environment` for every
variable): ``local`` (the default) is the embedded target; ``kubernetes`` is the cluster of
the allowed kube context, refused before any request when the context or the namespace is
not allowed. The Chaos Toolkit calls our functions with experiment arguments only, so the
choice is read here, at the extension's edge.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tfsverify.errors import BadInput
from tfsverify.targets import environment
from tfsverify.targets.base import Target

_cache: dict[tuple[str, ...], Target] = {}


def target_kind(env: Mapping[str, str] | None = None) -> str:
    """``local`` or ``kubernetes`` from ``TFSVERIFY_TARGET``; BadInput for anything else."""
    return environment.target_kind(os.environ if env is None else env)


def selected_target(env: Mapping[str, str] | None = None) -> Target:
    """The target selected by the environment (one instance per process and setting)."""
    env = os.environ if env is None else env
    key = tuple(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith(("TFSVERIFY_", "KUBE")))
    target = _cache.get(key)
    if target is None:
        target = _cache[key] = environment.target_from_environment(env)
    return target


def use_target(target: Target | None) -> None:
    """Make ``target`` the one every action and probe of this process uses (None: forget).

    For callers that build the target themselves (``tfsverify chaos`` from its settings,
    tests with a fake).
    """
    _cache.clear()
    if target is not None:
        _cache[("injected",)] = target


def current_target() -> Target:
    """The injected target if there is one, else :func:`selected_target`."""
    injected = _cache.get(("injected",))
    return injected if injected is not None else selected_target()


def fault_log_path(target: Target) -> Path:
    """Where the journal of applied faults lives: ``faults.jsonl`` in the target's state dir."""
    state_dir = getattr(target, "state_dir", None)
    if state_dir is None:
        raise BadInput(f"target {target.name!r} has no state directory for its fault journal")
    return Path(state_dir) / "faults.jsonl"
