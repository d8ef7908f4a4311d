"""Render the overlays of the reference deployment with ``kubectl kustomize`` (offline).

The same rendering the local target runs (:func:`tfsverify.targets.local.manifests.
render_overlay`), so what is validated is what is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tfsverify.errors import BadInput
from tfsverify.targets.local.manifests import render_overlay

OVERLAYS_DIR = "overlays"


@dataclass(frozen=True)
class Rendered:
    """One rendered overlay: its name, directory and objects (in kustomize's order)."""

    name: str
    path: Path
    objects: tuple[dict[str, Any], ...]

    def to_yaml(self) -> str:
        return yaml.safe_dump_all(list(self.objects), sort_keys=False)


def overlay_names(root: Path) -> list[str]:
    """The overlays under ``root/overlays`` (directories with a kustomization.yaml)."""
    overlays = root / OVERLAYS_DIR
    if not overlays.is_dir():
        raise BadInput(f"{root}: no {OVERLAYS_DIR}/ directory (is this reference-deploy/?)")
    return sorted(path.name for path in overlays.iterdir()
                  if (path / "kustomization.yaml").is_file())


def render(root: Path, names: list[str] | None = None) -> list[Rendered]:
    """Render the named overlays of ``root`` (all when ``names`` is None or empty).

    Raises :class:`~tfsverify.errors.BadInput` for an overlay that does not exist,
    :class:`~tfsverify.errors.ManifestError` for one that does not render, and
    :class:`~tfsverify.errors.TargetError` when kubectl is missing."""
    known = overlay_names(root)
    wanted = names or known
    missing = [name for name in wanted if name not in known]
    if missing:
        raise BadInput(f"{root / OVERLAYS_DIR}: no overlay {', '.join(missing)} "
                       f"(overlays: {', '.join(known) or 'none'})")
    if not wanted:
        raise BadInput(f"{root / OVERLAYS_DIR}: no overlay with a kustomization.yaml")
    rendered = []
    for name in wanted:
        path = root / OVERLAYS_DIR / name
        rendered.append(Rendered(name, path, tuple(render_overlay(path))))
    return rendered
