"""The Target contract: the same suite against every target.

The fake-Kubernetes target (the real client against a fake API server on loopback) runs
always; the local target (real TensorFlow model servers) only under the ``e2e`` marker,
started once for the module with its own state directory and pod address ranges.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "kubernetes"))

from fake_api import FakeApiServer, write_kubeconfig
from scenario import reference_cluster

from tfsverify.targets.base import Endpoint, GrpcFault, Node, Pod, Target
from tfsverify.targets.kubernetes import KubernetesTarget, settings_from_environment

REPO = Path(__file__).resolve().parents[2]
WAIT_S = {"kubernetes": 10.0, "local": 120.0}


@pytest.fixture(scope="module")
def local_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from tfsverify.targets.local.target import LocalTarget

    env = {"TFSVERIFY_POD_CIDR": "127.0.161.0/24", "TFSVERIFY_POD_LOCAL_CIDR": "127.0.162.0/24"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    target = LocalTarget(tmp_path_factory.mktemp("contract-local"),
                         REPO / "reference-deploy" / "overlays" / "local")
    try:
        target.up()
        yield target
    finally:
        target.down()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def kubernetes_target(tmp_path: Path) -> Iterator[Target]:
    with FakeApiServer(reference_cluster()) as server:
        env = {"KUBECONFIG": str(write_kubeconfig(tmp_path / "kubeconfig", server.url))}
        settings = replace(settings_from_environment(env), poll_s=0.05, drain_timeout_s=10.0)
        yield KubernetesTarget(settings, lambda line: None)


@pytest.fixture(params=["kubernetes", pytest.param("local", marks=pytest.mark.e2e)])
def target(request: pytest.FixtureRequest) -> Target:
    target: Target = request.getfixturevalue(f"{request.param}_target")
    return target


def _wait(target: Target, what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S[target.name]
    while not done():
        assert time.monotonic() < deadline, f"{target.name}: {what} did not happen in time"
        time.sleep(0.1)


def _all_ready(target: Target) -> bool:
    return sum(p.ready for p in target.pods()) >= target.desired_replicas()


def test_is_a_target(target: Target) -> None:
    assert isinstance(target, Target)


def test_reads_return_the_protocol_dataclasses(target: Target) -> None:
    _wait(target, "all replicas ready", lambda: _all_ready(target))
    pods, nodes, endpoint = target.pods(), target.nodes(), target.endpoint()
    assert pods and all(isinstance(p, Pod) for p in pods)
    assert nodes and all(isinstance(n, Node) for n in nodes)
    assert isinstance(endpoint, Endpoint)
    ready = {p.address for p in pods if p.ready and p.address}
    assert ready <= set(endpoint.addresses)  # and a canary track's pods, where there is one
    taking = {a for weight, addresses in endpoint.split if weight > 0 for a in addresses}
    assert not endpoint.split or taking == ready  # the manifests route to the serving pods
    assert {p.node for p in pods if p.node} <= {n.name for n in nodes}
    assert 0 <= target.min_available() <= target.desired_replicas()


def test_kill_pods_touches_count_distinct_pods_and_they_come_back(target: Target) -> None:
    _wait(target, "all replicas ready", lambda: _all_ready(target))
    before = {p.name for p in target.pods()}
    killed = target.kill_pods(1, seed=42)
    assert len(killed) == 1 and set(killed) <= before
    _wait(target, "replacement ready", lambda: _all_ready(target))


def test_grpc_fault_round_trip(target: Target) -> None:
    touched = target.inject_grpc_fault(GrpcFault("UNAVAILABLE", 10.0, delay_ms=100, delay_pct=5))
    assert touched and all(isinstance(t, str) for t in touched)
    cleared = target.clear_faults()
    assert isinstance(cleared, list)


def test_drain_then_uncordon(target: Target) -> None:
    _wait(target, "all replicas ready", lambda: _all_ready(target))
    node = next(p.node for p in target.pods() if p.ready and p.node)
    try:
        target.drain_node(node)
        assert not {n.name: n for n in target.nodes()}[node].schedulable
        assert all(p.node != node for p in target.pods() if p.ready)
    finally:
        target.uncordon_node(node)
    assert {n.name: n for n in target.nodes()}[node].schedulable
    _wait(target, "all replicas ready", lambda: _all_ready(target))


@pytest.mark.e2e
def test_local_rollout_moves_answers_to_the_canary_and_back(local_target: Target) -> None:
    """Not a contract test (the fake cluster has no canary track): the local target's route
    weights, seen through the mesh client's split by who answers."""
    from tfsverify.errors import TargetError
    from tfsverify.load.sample import sample_answers
    from tfsverify.serving.golden import load_golden

    _wait(local_target, "all replicas ready", lambda: _all_ready(local_target))
    golden = load_golden()
    manifest_split = local_target.endpoint().split
    try:
        assert sorted(local_target.rollout_model(2, 50)) == ["canary", "stable"]
        half = sample_answers(local_target.endpoint, golden, 400)
        assert half.wrong == 0 and not half.failed_by_status, half.describe()
        assert 40 <= half.share_pct(2) <= 60 and half.share_pct(1) + half.share_pct(2) == 100
        local_target.rollout_model(2, 100)
        promoted = sample_answers(local_target.endpoint, golden, 100)
        assert promoted.share_pct(2) == 100, promoted.describe()
        with pytest.raises(TargetError, match="version 3"):
            local_target.rollout_model(3, 10)
    finally:
        local_target.clear_faults()
    assert local_target.endpoint().split == manifest_split
    back = sample_answers(local_target.endpoint, golden, 100)
    assert back.share_pct(1) == 100, back.describe()
