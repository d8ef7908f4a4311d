"""Fixtures: the fake API server with the reference deployment, and a target bound to it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_api import FakeApiServer, FakeCluster, write_kubeconfig
from scenario import reference_cluster

from tfsverify.targets.kubernetes import KubernetesTarget, settings_from_environment
from tfsverify.targets.kubernetes.config import KubeSettings


@pytest.fixture
def cluster() -> FakeCluster:
    return reference_cluster()


@pytest.fixture
def server(cluster: FakeCluster) -> Iterator[FakeApiServer]:
    with FakeApiServer(cluster) as running:
        yield running


@pytest.fixture
def kube_env(server: FakeApiServer, tmp_path: Path) -> dict[str, str]:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
    return {"KUBECONFIG": str(kubeconfig), "TFSVERIFY_STATE_DIR": str(tmp_path / "state"),
            "TFSVERIFY_KUBE_TIMEOUT_S": "2"}


def fast(settings: KubeSettings) -> KubeSettings:
    return replace(settings, poll_s=0.05, drain_timeout_s=10.0, sidecar_timeout_s=5.0)


@pytest.fixture
def announced() -> list[str]:
    return []


@pytest.fixture
def target(kube_env: dict[str, str], announced: list[str]) -> KubernetesTarget:
    return KubernetesTarget(fast(settings_from_environment(kube_env)), announced.append)
