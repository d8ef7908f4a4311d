"""Settings, built once at the edge (CLI, nox, the Chaos Toolkit extension) and passed down.

Environment variables (all optional):

``TFSVERIFY_TARGET``       ``local`` (default) or ``kubernetes``
``TFSVERIFY_STATE_DIR``    where the local target keeps its state, certificates and logs
                           (default ``$XDG_STATE_HOME/tfsverify/local``, else
                           ``~/.local/state/tfsverify/local``)
``TFSVERIFY_OVERLAY``      the Kustomize overlay the local target runs
                           (default ``reference-deploy/overlays/local`` of this checkout)
``TFSVERIFY_UP_TIMEOUT_S`` how long ``up`` waits for every replica to be ready (default 180)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tfsverify.errors import BadInput

TARGET_KINDS = ("local", "kubernetes")
_OVERLAY_IN_REPO = Path("reference-deploy") / "overlays" / "local"


@dataclass(frozen=True)
class LocalSettings:
    state_dir: Path
    overlay: Path
    up_timeout_s: float = 180.0


@dataclass(frozen=True)
class Settings:
    target: str
    local: LocalSettings


def _default_state_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tfsverify" / "local"


def _default_overlay() -> Path:
    """The local overlay of the checkout we run from, else of the checkout we are installed from."""
    here = Path.cwd() / _OVERLAY_IN_REPO
    if here.is_dir():
        return here
    source_checkout = Path(__file__).resolve().parents[2]
    return source_checkout / _OVERLAY_IN_REPO


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name}={raw!r}: not a number") from None
    if value <= 0:
        raise BadInput(f"{name}={raw!r}: must be positive")
    return value


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    target: str | None = None,
    state_dir: Path | None = None,
    overlay: Path | None = None,
) -> Settings:
    """Build the settings from explicit values, then the environment, then defaults."""
    env = os.environ if env is None else env
    kind = target or env.get("TFSVERIFY_TARGET", "local")
    if kind not in TARGET_KINDS:
        raise BadInput(f"TFSVERIFY_TARGET={kind!r}: expected one of {', '.join(TARGET_KINDS)}")
    state = state_dir or (
        Path(env["TFSVERIFY_STATE_DIR"]) if env.get("TFSVERIFY_STATE_DIR") else None
    )
    chosen_overlay = overlay or (
        Path(env["TFSVERIFY_OVERLAY"]) if env.get("TFSVERIFY_OVERLAY") else _default_overlay()
    )
    if not (chosen_overlay / "kustomization.yaml").is_file():
        raise BadInput(
            f"{chosen_overlay}: no kustomization.yaml (set TFSVERIFY_OVERLAY or --overlay)"
        )
    timeout = _positive_float(
        "TFSVERIFY_UP_TIMEOUT_S", env.get("TFSVERIFY_UP_TIMEOUT_S", "180")
    )
    local = LocalSettings(
        state_dir=(state or _default_state_dir(env)).resolve(),
        overlay=chosen_overlay.resolve(),
        up_timeout_s=timeout,
    )
    return Settings(target=kind, local=local)
