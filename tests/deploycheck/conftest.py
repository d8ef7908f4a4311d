"""Every overlay of reference-deploy/, rendered once per session by kubectl kustomize."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfsverify.deploycheck.render import render

REFERENCE = Path(__file__).resolve().parents[2] / "reference-deploy"
Objects = list[dict[str, Any]]


@pytest.fixture(scope="session")
def rendered() -> dict[str, Objects]:
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl")
    return {overlay.name: list(overlay.objects) for overlay in render(REFERENCE)}


@pytest.fixture
def overlay(rendered: dict[str, Objects]) -> Callable[[str], Objects]:
    """A deep copy of an overlay's rendered objects, to apply a defect to."""
    return lambda name: copy.deepcopy(rendered[name])

