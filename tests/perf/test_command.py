"""``tfsverify perf`` without load: comparing stored runs, exit codes, refusals up front."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tfsverify.perf import command
from tfsverify.perf.document import write_document
from tfsverify.perf.target_session import TargetSettings

from .conftest import ENVIRONMENT, make_document

REPO = Path(__file__).resolve().parents[2]
FAST = str(Path(__file__).parent / "data" / "thresholds-fast.yaml")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def run(*argv: str, target: TargetSettings | None = None) -> tuple[int, str]:
    out = io.StringIO()
    if "--thresholds" not in argv:
        argv = (*argv, "--thresholds", FAST)
    code = command.run(parse(*argv), target=target, out=out)
    return code, out.getvalue()


def stored(tmp_path: Path, name: str, document: dict[str, Any]) -> str:
    return str(write_document(document, tmp_path / name))


def test_a_run_compared_with_itself_exits_0(tmp_path: Path) -> None:
    path = stored(tmp_path, "run.json", make_document())
    code, out = run("--candidate", path, "--baseline", path, "--out", str(tmp_path / "r"))
    assert code == 0
    assert "0 regression(s); 4 no detectable change" in out
    comparison = json.loads((tmp_path / "r" / "perf.json").read_text())["comparison"]
    assert {m["verdict"] for m in comparison["metrics"]} == {"no detectable change"}


def test_a_slowed_run_exits_1_and_names_the_regressions(tmp_path: Path) -> None:
    base = stored(tmp_path, "base.json", make_document(seed=1))
    slow = stored(tmp_path, "slow.json", make_document(seed=2, factor=1.5))
    code, out = run("--candidate", slow, "--baseline", base, "--out", str(tmp_path / "r"))
    assert code == 1
    assert "regression: sweep.200rps.p50_ms" in out
    assert (tmp_path / "r" / "junit.xml").exists()


def test_a_baseline_from_another_machine_is_refused_unless_allowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = stored(tmp_path, "base.json", make_document(
        environment={**ENVIRONMENT, "hostname_sha256": "ffffffffffffffff"}))
    cand = stored(tmp_path, "cand.json", make_document())
    code, _ = run("--candidate", cand, "--baseline", base, "--out", str(tmp_path / "r"))
    assert code == 2
    err = capsys.readouterr().err
    assert "another environment: hostname_sha256" in err and "--allow-env-mismatch" in err
    assert not (tmp_path / "r").exists()
    code, _ = run("--candidate", cand, "--baseline", base, "--out", str(tmp_path / "r"),
                  "--allow-env-mismatch")
    assert code == 0
    assert 'id="environment-mismatch"' in (tmp_path / "r" / "report.html").read_text()


def test_a_mismatched_baseline_is_refused_before_any_load(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = stored(tmp_path, "base.json", make_document(
        environment={**ENVIRONMENT, "cpu_count": 999}))
    target = TargetSettings("local", tmp_path / "state", REPO / "reference-deploy/overlays/local")
    code, _ = run("--quick", "--baseline", base, target=target)
    assert code == 2
    assert "cpu_count" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # the target was never started


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--plan", "nope.yaml"], "no such plan file"),
        (["--quick", "--only", "sweep,warp"], "--only: unknown part warp"),
        (["--candidate", "x.json"], "no such results file"),
        (["--quick", "--thresholds", "missing.yaml"], "no such thresholds file"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv: list[str], message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = TargetSettings("local", tmp_path / "state", REPO / "reference-deploy/overlays/local")
    code, _ = run(*argv, target=target)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_a_file_that_is_not_a_perf_result_is_bad_input(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "summary.json"
    other.write_text(json.dumps({"kind": "tfsverify.run", "schema_version": 1}))
    code, _ = run("--candidate", str(other), "--baseline", str(other))
    assert code == 2
    assert "not a tfsverify perf results document" in capsys.readouterr().err


def test_the_target_must_be_local(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TFSVERIFY_TARGET", "kubernetes")
    code, _ = run("--quick", "--no-baseline")
    assert code == 2
    assert "local target only" in capsys.readouterr().err


def test_a_kubernetes_target_given_by_the_cli_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = TargetSettings("kubernetes", tmp_path, REPO / "reference-deploy/overlays/local")
    code, _ = run("--quick", "--no-baseline", target=target)
    assert code == 2
    assert "local target only" in capsys.readouterr().err
