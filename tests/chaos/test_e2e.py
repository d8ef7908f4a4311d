"""End to end on the local target: the plain Chaos Toolkit CLI and the whole catalogue.

Each test uses a fresh state dir and its own pod address ranges, starts from a stopped
target and checks that the run took it down again with no process left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
CHAOS = Path(sys.executable).parent / "chaos"
RUN_CATALOGUE = ("import sys; from argparse import Namespace; from pathlib import Path; "
                 "from tfsverify.chaos import command; "
                 "sys.exit(command.run(Namespace(experiments=[Path(a) for a in sys.argv[2:]], "
                 "out=Path(sys.argv[1]), profile=None)))")

pytestmark = pytest.mark.e2e


def _env(tmp_path: Path, cidr: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(TFSVERIFY_STATE_DIR=str(tmp_path / "state"), TFSVERIFY_TARGET="local",
               TFSVERIFY_POD_CIDR=f"127.0.{cidr}.0/24",
               TFSVERIFY_POD_LOCAL_CIDR=f"127.0.{cidr + 1}.0/24", TF_CPP_MIN_LOG_LEVEL="2")
    return env


def _ours(state_dir: Path) -> list[psutil.Process]:
    """Processes of the target in ``state_dir``: named in their command line or run in it."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        where = " ".join(process.info["cmdline"] or []) + " " + str(process.info["cwd"] or "")
        if str(state_dir) in where:
            found.append(process)
    return found


def _left_behind(state_dir: Path) -> list[str]:
    return [f"{p.pid}: {' '.join(p.info['cmdline'] or [])[:120]}" for p in _ours(state_dir)]


def _cleanup(state_dir: Path) -> None:
    for process in _ours(state_dir):
        process.kill()


def test_chaos_run_pod_kill_writes_a_report_and_stops_the_target(tmp_path: Path) -> None:
    env = _env(tmp_path, 131)
    state_dir = tmp_path / "state"
    experiment = json.loads((REPO / "experiments" / "pod-kill.json").read_text())
    experiment["controls"][0]["provider"]["arguments"]["run_dir"] = str(tmp_path / "report")
    path = tmp_path / "pod-kill.json"
    path.write_text(json.dumps(experiment))
    try:
        result = subprocess.run(
            [str(CHAOS), "--log-file", str(tmp_path / "chaos.log"), "run", "--journal-path",
             str(tmp_path / "journal.json"), str(path)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
        summary = json.loads((tmp_path / "report" / "summary.json").read_text())
        assert summary["experiments"][0]["status"] == "completed"
        assert summary["experiments"][0]["windows"]["fault"]
        for name in ("report.html", "report.md", "junit.xml", "journal.json"):
            assert (tmp_path / "report" / name).is_file()
        assert not _left_behind(state_dir)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    finally:
        _cleanup(state_dir)


def test_ctrl_c_plays_rollbacks_writes_a_partial_report_and_exits_130(tmp_path: Path) -> None:
    env = _env(tmp_path, 133)
    state_dir = tmp_path / "state"
    out = tmp_path / "report"
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_CATALOGUE, str(out), "experiments/node-drain.json"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        faults = state_dir / "faults.jsonl"
        while time.monotonic() < deadline and not (faults.exists() and faults.read_text()):
            time.sleep(0.2)  # wait for the drain to be under way
        assert faults.exists(), "the drain never started"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 130, output[-3000:]
        summary = json.loads((out / "summary.json").read_text())
        assert summary["interrupted"] is True
        experiment = summary["experiments"][0]
        assert experiment["status"] == "interrupted"
        assert [a["name"] for a in experiment["activities"] if a["phase"] == "rollback"] == [
            "uncordon-drained-nodes"]
        undone = [json.loads(line) for line in faults.read_text().splitlines()]
        assert {e["id"] for e in undone if e["event"] == "applied"} <= {
            e["id"] for e in undone if e["event"] == "undone"}
        assert not _left_behind(state_dir)
    finally:
        if process.poll() is None:
            process.kill()
        _cleanup(state_dir)


def test_the_whole_catalogue_passes(tmp_path: Path) -> None:
    """Its duration (about five minutes here) is reported by ``nox -s chaos``, not judged
    in a test: a loaded CI machine must not turn a time into a failure."""
    env = _env(tmp_path, 135)
    state_dir = tmp_path / "state"
    out = tmp_path / "report"
    try:
        result = subprocess.run([sys.executable, "-c", RUN_CATALOGUE, str(out)], cwd=REPO,
                                env=env, capture_output=True, text=True, timeout=900,
                                check=False)
        summary = json.loads((out / "summary.json").read_text())
        failed = [v["id"] for e in summary["experiments"] for v in e["verdicts"]
                  if not v["passed"]]
        assert result.returncode == 0, f"{failed} {result.stdout[-3000:]} {result.stderr[-2000:]}"
        assert summary["verdict"] == "pass"
        assert [e["name"] for e in summary["experiments"]] == [
            "pod-kill", "sidecar-failure", "node-drain", "grpc-fault", "mtls-enforcement",
            "model-rollout", "gpu-node-drain"]
        assert not _left_behind(state_dir)
    finally:
        _cleanup(state_dir)
