"""Settings, built once at the edge (the CLI, nox) and passed down.

The environment variables and their defaults are documented, and read, in
:mod:`tfsverify.targets.environment`; flags given on the command line win over them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tfsverify.targets.environment import (
    checked_overlay,
    local_overlay,
    local_state_dir,
    target_kind,
    up_timeout_s,
)


@dataclass(frozen=True)
class LocalSettings:
    state_dir: Path
    overlay: Path
    up_timeout_s: float = 180.0


@dataclass(frozen=True)
class Settings:
    target: str
    local: LocalSettings


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    target: str | None = None,
    state_dir: Path | None = None,
    overlay: Path | None = None,
) -> Settings:
    """Build the settings from explicit values, then the environment, then defaults."""
    env = os.environ if env is None else env
    local = LocalSettings(
        state_dir=state_dir.resolve() if state_dir else local_state_dir(env),
        overlay=checked_overlay(overlay) if overlay else local_overlay(env),
        up_timeout_s=up_timeout_s(env),
    )
    return Settings(target=target_kind(env, target), local=local)
