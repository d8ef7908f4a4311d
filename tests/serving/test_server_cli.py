"""Start-up failures of the model server: they happen before TensorFlow loads (fast)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "reference-deploy" / "model"
CONFIG = REPO / "reference-deploy" / "base" / "config"


def run_server(
    *args: str, mounts: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TFSVERIFY_BIND_HOST="127.0.0.1")
    env["TFSVERIFY_MOUNTS"] = json.dumps(mounts or {"/models": str(MODELS), "/config": str(CONFIG)})
    return subprocess.run(
        [sys.executable, "-m", "tfsverify.serving", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
        check=False,
    )


def test_unknown_flag_exits_2_with_one_line() -> None:
    result = run_server("--port=8500", "--bogus_flag=1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tfsverify model server: unknown flag --bogus_flag"
    ]


def test_ignored_flags_are_reported_and_missing_base_path_exits_2() -> None:
    result = run_server("--enable_batching", "--model_name=m", "--model_base_path=/models/none")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "ignored flag --enable_batching"
    assert "base path /models/none" in lines[1] and "does not exist" in lines[1]
    assert len(lines) == 2


def test_no_model_and_empty_base_path_exit_2(tmp_path: Path) -> None:
    assert run_server("--port=1").returncode == 2
    (tmp_path / "m" / "not-a-version").mkdir(parents=True)
    result = run_server("--model_base_path=/t/m", mounts={"/t": str(tmp_path)})
    assert result.returncode == 2
    assert "no servable version" in result.stderr


def test_labels_at_start_up_need_the_allow_flag() -> None:
    result = run_server("--model_config_file=/config/models.config", "--port=0")
    assert result.returncode == 2
    assert "FAILED_PRECONDITION: Request to assign label to version 1" in result.stderr
    assert "--allow_version_labels_for_unavailable_models" in result.stderr


def test_port_in_use_exits_3() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_server(f"--port={port}", "--model_base_path=/models/anomaly-detection")
    assert result.returncode == 3
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_and_version_exit_0() -> None:
    helped = run_server("--help")
    assert helped.returncode == 0 and "--model_config_file=" in helped.stdout
    version = run_server("--version")
    assert version.returncode == 0 and version.stdout.startswith("TensorFlow ModelServer:")
