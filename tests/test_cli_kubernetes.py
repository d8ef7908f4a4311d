"""`TFSVERIFY_TARGET=kubernetes tfsverify status`: refused contexts exit 2, dead servers exit 3."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "http://127.0.0.1:9"}
- name: kind
  cluster: {server: "http://127.0.0.1:9"}
contexts:
- name: prod-eu
  context: {cluster: prod, user: u}
- name: kind-tfsverify
  context: {cluster: kind, user: u}
current-context: prod-eu
users:
- name: u
  user: {token: not-a-secret}
"""


def status(tmp_path: Path, **env_extra: str) -> subprocess.CompletedProcess:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), TFSVERIFY_TARGET="kubernetes",
               TFSVERIFY_STATE_DIR=str(tmp_path / "state"), **env_extra)
    return subprocess.run([sys.executable, "-m", "tfsverify.cli", "status", "--json"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_context_not_on_the_allow_list_exits_2_with_one_line(tmp_path: Path) -> None:
    result = status(tmp_path)
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if x.startswith("tfsverify: error:")]
    assert "'prod-eu' is not on the allow-list" in line
    assert result.stdout == ""


def test_unreachable_api_server_exits_3_within_the_request_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    result = status(tmp_path, TFSVERIFY_KUBE_CONTEXT="kind-tfsverify", TFSVERIFY_KUBE_TIMEOUT_S="2")
    assert result.returncode == 3, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("tfsverify: error:")]
    assert "unreachable" in line and "kind-tfsverify" in line
    assert time.monotonic() - started < 30  # interpreter start-up plus one 2 s request
