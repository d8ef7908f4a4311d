"""Which target, from the environment: the one place the ``TFSVERIFY_*`` variables are read.

``TFSVERIFY_TARGET``       ``local`` (default) or ``kubernetes``
``TFSVERIFY_STATE_DIR``    the local target's state, certificates and logs (default
                           ``$XDG_STATE_HOME/tfsverify/local``, else ``~/.local/state/...``)
``TFSVERIFY_OVERLAY``      the Kustomize overlay the local target runs (default
                           ``reference-deploy/overlays/local`` of the checkout in the working
                           directory, else of the checkout tfsverify is installed from)
``TFSVERIFY_UP_TIMEOUT_S`` how long the local target's ``up`` waits for readiness (180)

The kubernetes target reads its own variables (``TFSVERIFY_KUBE_*``, ``TFSVERIFY_NAMESPACE``):
see :mod:`tfsverify.targets.kubernetes.config`. Both the CLI's settings and the Chaos
Toolkit extension (which gets no settings from ``chaos run``) call these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tfsverify.errors import BadInput
from tfsverify.targets.base import Target

TARGET_KINDS = ("local", "kubernetes")
_OVERLAY_IN_REPO = Path("reference-deploy") / "overlays" / "local"


def target_kind(env: Mapping[str, str], explicit: str | None = None) -> str:
    kind = explicit or env.get("TFSVERIFY_TARGET") or "local"
    if kind not in TARGET_KINDS:
        raise BadInput(f"TFSVERIFY_TARGET={kind!r}: expected one of {', '.join(TARGET_KINDS)}")
    return kind


def local_state_dir(env: Mapping[str, str]) -> Path:
    if env.get("TFSVERIFY_STATE_DIR"):
        return Path(env["TFSVERIFY_STATE_DIR"]).resolve()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return (Path(base) / "tfsverify" / "local").resolve()


def local_overlay(env: Mapping[str, str]) -> Path:
    if env.get("TFSVERIFY_OVERLAY"):
        chosen = Path(env["TFSVERIFY_OVERLAY"])
    elif (Path.cwd() / _OVERLAY_IN_REPO).is_dir():
        chosen = Path.cwd() / _OVERLAY_IN_REPO
    else:
        chosen = Path(__file__).resolve().parents[3] / _OVERLAY_IN_REPO
    return checked_overlay(chosen)


def checked_overlay(overlay: Path) -> Path:
    if not (overlay / "kustomization.yaml").is_file():
        raise BadInput(f"{overlay}: no kustomization.yaml (set TFSVERIFY_OVERLAY or --overlay)")
    return overlay.resolve()


def up_timeout_s(env: Mapping[str, str]) -> float:
    raw = env.get("TFSVERIFY_UP_TIMEOUT_S", "180")
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"TFSVERIFY_UP_TIMEOUT_S={raw!r}: not a number") from None
    if value <= 0:
        raise BadInput(f"TFSVERIFY_UP_TIMEOUT_S={raw!r}: must be positive")
    return value


def target_from_environment(env: Mapping[str, str]) -> Target:
    """The selected target. The kubernetes one refuses disallowed contexts before any request."""
    if target_kind(env) == "kubernetes":
        from tfsverify.targets.kubernetes import KubernetesTarget

        return KubernetesTarget.from_environment(env)
    from tfsverify.targets.local.target import LocalTarget

    return LocalTarget(local_state_dir(env), local_overlay(env), up_timeout_s(env))
