"""The target a performance run measures: the local target, started if it is not running.

Read from the environment as the rest of tfsverify reads it (``tfsverify.settings``):
``TFSVERIFY_TARGET`` (only ``local`` is measured for now), ``TFSVERIFY_STATE_DIR``,
``TFSVERIFY_OVERLAY``, ``TFSVERIFY_UP_TIMEOUT_S``; the local target itself reads
``TFSVERIFY_POD_CIDR``/``TFSVERIFY_POD_LOCAL_CIDR``. A target this command started is
taken down when it ends (also on Ctrl-C and on errors); one that was running is left so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput
from tfsverify.targets.local.target import LocalTarget

_OVERLAY_IN_REPO = Path("reference-deploy") / "overlays" / "local"


@dataclass(frozen=True)
class TargetSettings:
    kind: str
    state_dir: Path
    overlay: Path
    up_timeout_s: float = 180.0


def settings_from_env(env: Mapping[str, str] | None = None) -> TargetSettings:
    env = os.environ if env is None else env
    kind = env.get("TFSVERIFY_TARGET", "local")
    if kind != "local":
        raise BadInput(f"TFSVERIFY_TARGET={kind!r}: the performance report measures the local "
                       "target only (the mesh overhead needs direct access to the pods)")
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    state_dir = Path(env.get("TFSVERIFY_STATE_DIR") or Path(base) / "tfsverify" / "local")
    overlay = Path(env["TFSVERIFY_OVERLAY"]) if env.get("TFSVERIFY_OVERLAY") else _overlay()
    if not (overlay / "kustomization.yaml").is_file():
        raise BadInput(f"{overlay}: no kustomization.yaml (set TFSVERIFY_OVERLAY)")
    raw = env.get("TFSVERIFY_UP_TIMEOUT_S", "180")
    try:
        timeout = float(raw)
    except ValueError:
        raise BadInput(f"TFSVERIFY_UP_TIMEOUT_S={raw!r}: not a number") from None
    return TargetSettings(kind, state_dir.resolve(), overlay.resolve(), timeout)


def _overlay() -> Path:
    here = Path.cwd() / _OVERLAY_IN_REPO
    return here if here.is_dir() else Path(__file__).resolve().parents[3] / _OVERLAY_IN_REPO


@dataclass
class Session:
    target: LocalTarget
    started: bool

    def info(self) -> dict[str, Any]:
        """What the document records about the target measured."""
        status = self.target.status()
        return {
            "kind": "local",
            "pods": len(status.get("pods", [])),
            "ready": sum(1 for p in status.get("pods", []) if p.get("ready")),
            "overlay": status.get("overlay"),
            "model": status.get("model"),
            "mtls_mode": (status.get("mesh") or {}).get("mtls_mode"),
            "started_by_perf": self.started,
        }


def describe(settings: TargetSettings) -> tuple[bool, int]:
    """(whether the target runs now, how many pods it has or will have): for the estimate."""
    target = LocalTarget(settings.state_dir, settings.overlay, settings.up_timeout_s)
    return target.is_running(), target.desired_replicas()


@contextmanager
def target_session(settings: TargetSettings) -> Iterator[Session]:
    """The running target (started here if needed, then taken down here)."""
    target = LocalTarget(settings.state_dir, settings.overlay, settings.up_timeout_s)
    started = not target.is_running()
    try:
        target.up()
        yield Session(target, started)
    finally:
        if started:
            target.down()
