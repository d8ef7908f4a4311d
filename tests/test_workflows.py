"""The GitHub workflows and the scripts they run are lint-clean (actionlint, shellcheck)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
SCRIPTS = sorted((REPO / "reference-deploy" / "scripts").glob("*.sh"))


def tool(name: str) -> str:
    """A linter from the dev extra (next to this Python) or PATH; fail when it is missing."""
    found = Path(sys.executable).parent / name
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (it comes with the dev extra)")
    return path


def test_the_three_workflows_exist() -> None:
    assert [w.name for w in WORKFLOWS] == ["ci.yml", "nightly-resilience.yml",
                                           "pre-release-perf.yml"]
    assert "bash .ci/run" in (REPO / ".github" / "workflows" / "ci.yml").read_text()


def test_actionlint_passes_on_every_workflow() -> None:
    # actionlint also runs shellcheck over every `run:` block
    result = subprocess.run(
        [tool("actionlint"), f"-shellcheck={tool('shellcheck')}", "-no-color",
         *map(str, WORKFLOWS)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text((REPO / ".github" / "workflows" / "nightly-resilience.yml").read_text()
                      .replace("matrix.overlay }}", "matrix.overlays }}"))
    result = subprocess.run([tool("actionlint"), "-shellcheck=", "-no-color", str(broken)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 1 and 'property "overlays" is not defined' in result.stdout


def test_shellcheck_passes_on_the_bootstrap_scripts() -> None:
    assert {s.name for s in SCRIPTS} >= {"bootstrap.sh", "teardown.sh"}
    result = subprocess.run([tool("shellcheck"), "--severity=style", *map(str, SCRIPTS)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
    for script in SCRIPTS:
        assert "set -euo pipefail" in script.read_text()
