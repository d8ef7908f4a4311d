"""``tfsverify perf`` end to end on the local target (real model servers and sidecars).

One target for the module, on its own loopback blocks and state dir. First the quick plan
(what ``nox -s perf -- --quick`` runs), stored as a baseline; then the model servers are
slowed on purpose (an Istio-style fixed delay of 20 ms on every request, injected by the
sidecars) and a short plan measuring the same sweep steps and the mesh overhead is compared
with that baseline: the slowdown must be flagged, and only on the paths through the sidecar.
About 3 minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tfsverify.targets.base import GrpcFault
from tfsverify.targets.local.target import LocalTarget

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
OVERLAY = REPO / "reference-deploy" / "overlays" / "local"
SLOWED_PLAN = Path(__file__).parent / "data" / "plan-slowed.yaml"
DELAY_MS = 20


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("perf-target")
    env = dict(os.environ)
    env.update({
        "TFSVERIFY_STATE_DIR": str(state_dir),
        "TFSVERIFY_OVERLAY": str(OVERLAY),
        "TFSVERIFY_POD_CIDR": "127.0.151.0/24",
        "TFSVERIFY_POD_LOCAL_CIDR": "127.0.152.0/24",
        "TFSVERIFY_UP_TIMEOUT_S": "240",
    })
    up = subprocess.run([sys.executable, "-m", "tfsverify.cli", "up"], env=env, cwd=REPO,
                        capture_output=True, text=True, timeout=300, check=False)
    local = LocalTarget(state_dir, OVERLAY)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        yield {"env": env, "target": local, "work": tmp_path_factory.mktemp("perf-out")}
    finally:
        local.down()


def perf(target: dict[str, Any], *argv: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfsverify.perf", *argv], env=target["env"],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False)


def verdicts(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in document["comparison"]["metrics"]}


def test_the_quick_report_is_written_and_exits_0(target: dict[str, Any]) -> None:
    out, baseline = target["work"] / "quick", target["work"] / "baseline.json"
    run = perf(target, "--quick", "--no-baseline", "--out", str(out),
               "--save-baseline", str(baseline))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "runs, about" in run.stderr  # the duration is stated up front
    for name in ("perf.json", "report.html", "report.md", "junit.xml"):
        assert (out / name).is_file()
    document = json.loads((out / "perf.json").read_text())
    assert set(document["parts"]) == {"sweep", "ramp", "spike", "mesh"}
    assert document["engine_benchmark"]["status"] == "ok", document["engine_benchmark"]
    assert document["warnings"] == [] or all("wrong" not in w for w in document["warnings"])
    mesh = document["parts"]["mesh"]
    assert mesh["latency_ms"]["sidecar"]["p50"] > mesh["latency_ms"]["direct"]["p50"] > 0
    assert mesh["cpu_us_per_request"]["sidecar"]["sidecar"] > 0
    assert target["target"].is_running()  # a target perf did not start is left running
    # the same run compared with itself: no detectable change, for every metric
    again = perf(target, "--candidate", str(baseline), "--baseline", str(baseline),
                 "--out", str(target["work"] / "self"))
    assert again.returncode == 0, again.stderr[-2000:]
    self_compared = json.loads((target["work"] / "self" / "perf.json").read_text())
    assert {m["verdict"] for m in self_compared["comparison"]["metrics"]} == {
        "no detectable change"}


def test_a_slowed_model_server_is_flagged_as_slower(target: dict[str, Any]) -> None:
    baseline = target["work"] / "baseline.json"
    if not baseline.is_file():
        pytest.skip("needs the quick run's baseline (test above)")
    local: LocalTarget = target["target"]
    local.inject_grpc_fault(GrpcFault(delay_ms=DELAY_MS, delay_pct=100))
    try:
        out = target["work"] / "slowed"
        run = perf(target, "--plan", str(SLOWED_PLAN), "--baseline", str(baseline),
                   "--out", str(out))
    finally:
        local.clear_faults()
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    assert "regression: sweep.50rps.p50_ms" in run.stdout
    found = verdicts(json.loads((out / "perf.json").read_text()))
    for metric_id in ("sweep.50rps.p50_ms", "sweep.250rps.p50_ms", "mesh.sidecar.p50_ms"):
        assert found[metric_id]["verdict"] == "slower", found[metric_id]
        assert found[metric_id]["regression"] is True
        assert found[metric_id]["change_ci"][0] > 100  # 20 ms on a few ms: more than doubled
    added = found["mesh.added_p50_ms"]  # the sidecar now adds the delay
    assert added["verdict"] == "slower" and added["regression"] is True
    assert added["change"] == pytest.approx(DELAY_MS, abs=6)
    # the model server itself was not slowed: its direct path moved by far less
    assert found["mesh.direct.p50_ms"]["change"] < 50
    junit = (out / "junit.xml").read_text()
    assert 'name="sweep.50rps.p50_ms"' in junit and "PerformanceRegression" in junit
