"""Defects in the manifests make the suite fail, naming the assertion that caught them.

Each e2e case copies reference-deploy/, applies one defect, and runs only the experiment
that catches it (``tfsverify chaos EXPERIMENT --out DIR``) on the local target, with its
own state dir and its own pod address block. The run must exit 1 (an SLO breach) with the
named verdict among the failed ones. The healthy manifests pass these same experiments:
``tests/chaos/test_e2e.py::test_the_whole_catalogue_passes_within_five_minutes``.

Defect 6 (retries that hide injected aborts) relies on where the local target injects a
fault: in the destination's sidecar, so the client's retries apply to the aborts. In Istio
a VirtualService fault is applied by the client's sidecar and disables the route's
retries; there a ``retryOn: unavailable`` would mask real UNAVAILABLEs (TF Serving's full
batch queue, dead app behind a live sidecar) rather than the injected ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tfsverify.chaos import context
from tfsverify.chaos.pods.probes import disruption_budget_protects_serving

REPO = Path(__file__).resolve().parents[2]
e2e = pytest.mark.e2e


def copy_reference(tmp_path: Path) -> Path:
    """A copy of reference-deploy/ to break; the model directory is linked, not copied."""
    copy = tmp_path / "reference-deploy"
    shutil.copytree(REPO / "reference-deploy", copy, ignore=shutil.ignore_patterns("model"))
    (copy / "model").symlink_to(REPO / "reference-deploy" / "model")
    return copy


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _ours(state_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        where = " ".join(process.info["cmdline"] or []) + " " + str(process.info["cwd"] or "")
        if str(state_dir) in where:
            found.append(process)
    return found


def run_with_defect(tmp_path: Path, block: int, experiment: str,
                    defect: Callable[[Path], None]) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``experiment`` on a copy of the manifests with ``defect`` applied; returns the exit
    code, the failed verdicts and the command's output tail."""
    reference = copy_reference(tmp_path)
    defect(reference)
    state_dir = tmp_path / "state"
    env = dict(os.environ)
    env.update(TFSVERIFY_STATE_DIR=str(state_dir), TFSVERIFY_TARGET="local",
               TFSVERIFY_OVERLAY=str(reference / "overlays" / "local"),
               TFSVERIFY_POD_CIDR=f"127.0.{block}.0/24",
               TFSVERIFY_POD_LOCAL_CIDR=f"127.0.{block + 1}.0/24", TF_CPP_MIN_LOG_LEVEL="2")
    out = tmp_path / "report"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tfsverify.cli", "chaos",
             str(REPO / "experiments" / f"{experiment}.json"), "--out", str(out)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
        summary = json.loads((out / "summary.json").read_text())
        failed = [v for e in summary["experiments"] for v in e["verdicts"] if not v["passed"]]
        left = [p.pid for p in _ours(state_dir)]
        assert not left, f"processes left behind: {left}"
        return result.returncode, failed, result.stdout[-2000:] + result.stderr[-2000:]
    finally:
        for process in _ours(state_dir):
            process.kill()


def assert_caught(outcome: tuple[int, list[dict[str, Any]], str], verdict_id: str) -> None:
    code, failed, output = outcome
    ids = [v["id"] for v in failed]
    assert code == 1, f"exit {code}, failed {ids}: {output}"
    assert verdict_id in ids, f"{verdict_id} not in {ids}: {output}"
    print({v["id"]: v["measured"] for v in failed})  # for the record (pytest -s)


def _deployment(reference: Path) -> Path:
    return reference / "base" / "deployment.yaml"


def one_replica(reference: Path) -> None:
    replace_in(_deployment(reference), "replicas: 3", "replicas: 1")


def no_disruption_budget(reference: Path) -> None:
    replace_in(reference / "base" / "kustomization.yaml", "  - pdb.yaml\n", "")


def permissive_mtls(reference: Path) -> None:
    replace_in(reference / "base" / "istio" / "peer-authentication.yaml",
               "mode: STRICT", "mode: PERMISSIVE")


def authorization_allows_everyone(reference: Path) -> None:
    path = reference / "base" / "istio" / "authorization-policy.yaml"
    text = path.read_text()
    path.write_text(text[:text.index("  rules:")] + "  rules:\n    - {}\n")


def ready_before_the_model_answers(reference: Path) -> None:
    """No startup and no readiness probe: the pod is ready once its containers started, while
    the model server still loads (it opens its ports only then, like TF Serving)."""
    path = _deployment(reference)
    text = path.read_text()
    start = text.index("          startupProbe:")
    end = text.index("          livenessProbe:")
    text = text[:start] + text[end:]
    start = text.index("          readinessProbe:")
    end = text.index("          lifecycle:")
    path.write_text(text[:start] + text[end:])


def retries_hide_aborts(reference: Path) -> None:
    path = reference / "base" / "istio" / "virtual-service.yaml"
    replace_in(path, "attempts: 1", "attempts: 3")
    replace_in(path, "retryOn: connect-failure,refused-stream", "retryOn: unavailable")


@e2e
def test_one_replica_fails_pod_kill(tmp_path: Path) -> None:
    """A single replica has no budget that keeps one ready while another goes: the steady
    state before the kill already fails (the kill is not done)."""
    outcome = run_with_defect(tmp_path, 181, "pod-kill", one_replica)
    assert_caught(outcome, "pod-kill.hypothesis-before.disruption-budget-protects-serving")


@e2e
def test_no_disruption_budget_fails_node_drain(tmp_path: Path) -> None:
    outcome = run_with_defect(tmp_path, 183, "node-drain", no_disruption_budget)
    assert_caught(outcome, "node-drain.hypothesis-before.disruption-budget-protects-serving")


@e2e
def test_permissive_mtls_fails_mtls_enforcement(tmp_path: Path) -> None:
    outcome = run_with_defect(tmp_path, 185, "mtls-enforcement", permissive_mtls)
    assert_caught(outcome, "mtls-enforcement.hypothesis-before.plaintext-call-rejected")


@e2e
def test_authorization_that_allows_everyone_fails_mtls_enforcement(tmp_path: Path) -> None:
    outcome = run_with_defect(tmp_path, 187, "mtls-enforcement", authorization_allows_everyone)
    assert_caught(outcome, "mtls-enforcement.hypothesis-before.unauthorised-principal-denied")


@e2e
def test_pods_ready_before_the_model_answers_fail_pod_kill(tmp_path: Path) -> None:
    outcome = run_with_defect(tmp_path, 189, "pod-kill", ready_before_the_model_answers)
    assert_caught(outcome, "pod-kill.fault.availability")


@e2e
def test_retries_that_hide_the_injected_aborts_fail_grpc_fault(tmp_path: Path) -> None:
    outcome = run_with_defect(tmp_path, 191, "grpc-fault", retries_hide_aborts)
    assert_caught(outcome, "grpc-fault.fault.error_rate_unavailable_in_band")


# the new steady-state probe, on the in-memory target (no processes)

@pytest.mark.parametrize(("replicas", "required", "expected"),
                         [(3, 2, True), (3, 0, False), (1, 0, False), (3, 3, False)])
def test_disruption_budget_protects_serving(fake_target: Any, replicas: int, required: int,
                                            expected: bool) -> None:
    fake_target.replicas, fake_target.required = replicas, required
    assert disruption_budget_protects_serving() is expected
    assert f"requires {required} of {replicas}" in (context.take_note() or "")
