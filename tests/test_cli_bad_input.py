"""Bad input and a broken environment: one clear line and a distinct exit code, nothing left."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def copy_reference(tmp_path: Path) -> Path:
    """A copy of reference-deploy/ to break; the model directory is linked, not copied."""
    copy = tmp_path / "reference-deploy"
    shutil.copytree(REPO / "reference-deploy", copy, ignore=shutil.ignore_patterns("model"))
    (copy / "model").symlink_to(REPO / "reference-deploy" / "model")
    return copy


def tfsverify(tmp_path: Path, overlay: Path, *args: str, block: int = 81):
    env = dict(os.environ)
    env.update({
        "TFSVERIFY_STATE_DIR": str(tmp_path / "state"),
        "TFSVERIFY_OVERLAY": str(overlay),
        "TFSVERIFY_POD_CIDR": f"127.0.{block}.0/24",
        "TFSVERIFY_POD_LOCAL_CIDR": f"127.0.{block + 1}.0/24",
        "TFSVERIFY_UP_TIMEOUT_S": "120",
    })
    result = subprocess.run(
        [sys.executable, "-m", "tfsverify.cli", *args], env=env, capture_output=True,
        text=True, timeout=180, check=False,
    )
    subprocess.run([sys.executable, "-m", "tfsverify.cli", "down"], env=env,
                   capture_output=True, timeout=60, check=False)
    return result


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("tfsverify: error:")]


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_manifest_that_does_not_parse_exits_2(tmp_path: Path) -> None:
    reference = copy_reference(tmp_path)
    replace_in(reference / "base" / "pdb.yaml", "maxUnavailable: 1", "maxUnavailable: [1")
    result = tfsverify(tmp_path, reference / "overlays" / "local", "up")
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert "pdb.yaml" in line or "yaml" in line.lower()


def test_unknown_field_value_exits_2_naming_the_field(tmp_path: Path) -> None:
    reference = copy_reference(tmp_path)
    replace_in(reference / "base" / "istio" / "peer-authentication.yaml",
               "mode: STRICT", "mode: STRIKT")
    result = tfsverify(tmp_path, reference / "overlays" / "local", "up")
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert "PeerAuthentication/anomaly-detection" in line and "STRIKT" in line


def test_model_path_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    reference = copy_reference(tmp_path)
    replace_in(reference / "overlays" / "local" / "model-from-repo.yaml",
               "path: ../../model", "path: ../../no-such-model")
    result = tfsverify(tmp_path, reference / "overlays" / "local", "up")
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert "no-such-model" in line and "does not exist" in line


def test_port_in_use_exits_3_and_leaves_nothing(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.91.1", 8500))
        squatter.listen()
        result = tfsverify(tmp_path, REPO / "reference-deploy" / "overlays" / "local", "up",
                           block=91)
    assert result.returncode == 3, result.stderr
    [line] = error_lines(result.stderr)
    assert "127.0.91.1:8500" in line and "in use" in line
    assert not (tmp_path / "state" / "supervisor.pid").exists()


def test_status_without_a_running_target_exits_3(tmp_path: Path) -> None:
    result = tfsverify(tmp_path, REPO / "reference-deploy" / "overlays" / "local",
                       "status", "--json")
    assert result.returncode == 3
    [line] = error_lines(result.stderr)
    assert "not running" in line


@pytest.mark.e2e
def test_model_directory_without_versions_exits_2(tmp_path: Path) -> None:
    reference = copy_reference(tmp_path)
    (reference / "model").unlink()
    (reference / "model" / "anomaly-detection").mkdir(parents=True)
    result = tfsverify(tmp_path, reference / "overlays" / "local", "up", block=101)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert "CrashLoopBackOff" in line and "anomaly-detection" in line
