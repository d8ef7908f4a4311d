"""`validate-deploy` end to end: the real reference-deploy/ passes; rendered copies with a
defect in their files fail with the check's line; bad input exits 2."""

from __future__ import annotations

import argparse
import io
import shutil
import sys
from pathlib import Path

import pytest

from tfsverify.deploycheck import command

REFERENCE = Path(__file__).resolve().parents[2] / "reference-deploy"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")


def run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out = io.StringIO()
    return command.run(parser.parse_args(list(argv)), out), out.getvalue()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """reference-deploy/ copied without the model (the overlays only name its path)."""
    root = tmp_path / "reference-deploy"
    shutil.copytree(REFERENCE, root, ignore=shutil.ignore_patterns("model"))
    (root / "model").mkdir()
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_the_reference_deployment_passes_and_writes_what_it_rendered(tmp_path: Path) -> None:
    code, out = run("--root", str(REFERENCE), "--out", str(tmp_path / "rendered"))
    assert code == 0, out
    for name in ("local", "kind", "kind-fake-gpu", "gpu"):
        assert f"overlay {name}: " in out and (tmp_path / "rendered" / f"{name}.yaml").is_file()
    assert "4/4 overlays pass; schemas: Kubernetes 1.29 to 1." in out
    assert "kind: PeerAuthentication" in (tmp_path / "rendered" / "kind.yaml").read_text()


def test_a_defect_in_the_base_files_fails_every_overlay_naming_the_check(copy: Path) -> None:
    edit(copy / "base" / "deployment.yaml", "replicas: 3", "replicas: 2")
    edit(copy / "base" / "pdb.yaml", "  unhealthyPodEvictionPolicy: AlwaysAllow\n", "")
    code, out = run("--root", str(copy), "--only", "local", "--only", "kind")
    assert code == 1, out
    lines = out.splitlines()
    assert lines.count("replicas-min: Deployment/anomaly-detection: spec.replicas is 2, needs "
                       ">= 3 — " + command.policy.checks_availability.WHY_REPLICAS) == 2
    budget = ("pdb-satisfiable: PodDisruptionBudget/anomaly-detection: "
              "unhealthyPodEvictionPolicy is IfHealthyBudget")
    assert sum(line.startswith(budget) for line in lines) == 2
    assert "0/2 overlays pass" in out


def test_a_permissive_mesh_and_a_schema_typo_fail(copy: Path) -> None:
    edit(copy / "base" / "istio" / "peer-authentication.yaml", "mode: STRICT", "mode: PERMISSIVE")
    edit(copy / "base" / "deployment.yaml", "readinessProbe:", "readinesProbe:")
    code, out = run("--root", str(copy), "--only", "local")
    assert code == 1
    assert ("mtls-strict: Deployment/anomaly-detection: mTLS mode is PERMISSIVE "
            "(from PeerAuthentication/anomaly-detection) — ") in out
    assert "'readinesProbe' was unexpected" in out
    assert "readiness-model: Deployment/anomaly-detection: " in out


def test_a_gpu_overlay_without_the_toleration_fails(copy: Path) -> None:
    placement = copy / "components" / "gpu" / "placement.yaml"
    text = placement.read_text()
    placement.write_text(text[: text.index("      tolerations:")] + text[text.index(
        "      containers:"):])
    code, out = run("--root", str(copy), "--only", "kind-fake-gpu", "--check", "gpu-placement")
    assert code == 1
    assert ("gpu-placement: Deployment/anomaly-detection: requests nvidia.com/gpu but does not "
            "tolerate the nvidia.com/gpu NoSchedule taint") in out


def test_bad_input_exits_2(copy: Path, tmp_path: Path) -> None:
    code, out = run("--root", str(copy), "--only", "no-such-overlay")
    assert code == 2 and "no overlay no-such-overlay (overlays: gpu, kind" in out
    code, out = run("--root", str(tmp_path / "nowhere"))
    assert code == 2 and "no overlays/ directory" in out
    edit(copy / "overlays" / "kind" / "kustomization.yaml", "../../clients", "../../no-such-dir")
    code, out = run("--root", str(copy), "--only", "kind")
    assert code == 2 and "kubectl kustomize failed" in out


def test_list_checks_prints_every_check() -> None:
    code, out = run("--list-checks")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(command.policy.CHECK_IDS)


def test_missing_schema_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import tfsverify.deploycheck

    monkeypatch.setitem(sys.modules, "tfsverify.deploycheck.schemas", None)
    monkeypatch.delattr(tfsverify.deploycheck, "schemas", raising=False)
    code, out = run("--root", str(REFERENCE))
    assert code == 3 and "pip install 'tfsverify[dev]'" in out
