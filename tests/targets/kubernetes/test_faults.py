"""Faults on the fake cluster: selection, eviction under the PDB, drain, sidecars, Istio."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from random import Random

import pytest
from fake_api import SIDECAR_KILL, FakeCluster

from tfsverify.errors import BadInput, TargetError
from tfsverify.targets.base import GrpcFault
from tfsverify.targets.kubernetes import KubernetesTarget
from tfsverify.targets.kubernetes.faults import SNAPSHOT

VS = ("virtualservices", "tfserving", "anomaly-detection")


def test_selection_is_seeded_and_without_replacement(target: KubernetesTarget,
                                                     cluster: FakeCluster) -> None:
    cluster.ready_delay_s = 0.0  # replacements count as ready at once
    first = target.kill_pods(1, seed=7)
    assert first[0] not in {p.name for p in target.pods()}
    # the same seed over the same sorted candidates makes the same choice
    candidates = ["anomaly-detection-5f7c-a", "anomaly-detection-5f7c-b",
                  "anomaly-detection-5f7c-c"]
    assert first == Random(7).sample(candidates, 1)


def test_kill_two_touches_two_distinct_pods_when_the_budget_allows(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    pdb = cluster.get("poddisruptionbudgets", "tfserving", "anomaly-detection")
    assert pdb is not None
    pdb["spec"]["maxUnavailable"] = 2
    cluster.put("poddisruptionbudgets", pdb)
    killed = target.kill_pods(2, seed=11)
    assert len(set(killed)) == 2
    assert not set(killed) & {p.name for p in target.pods()}


def test_kill_refused_when_it_would_go_below_the_pdb(target: KubernetesTarget,
                                                     cluster: FakeCluster) -> None:
    with pytest.raises(TargetError, match="would go below it"):
        target.kill_pods(2, seed=1)
    assert cluster.mutations() == []


def test_eviction_blocked_by_the_pdb_is_retried_until_the_timeout(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    pod = cluster.get("pods", "tfserving", "anomaly-detection-5f7c-b")
    assert pod is not None
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    cluster.put("pods", pod)  # one unhealthy already: the budget allows no eviction of a ready pod
    target.settings = replace(target.settings, drain_timeout_s=0.5)
    with pytest.raises(TargetError, match="refused until the drain timeout"):
        target.drain_node("worker")
    evictions = [p for m, p in cluster.requests if p.endswith("/eviction")]
    assert len(evictions) >= 2
    assert cluster.get("pods", "tfserving", "anomaly-detection-5f7c-a") is not None


def test_drain_evicts_mesh_pods_and_uncordon_restores(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    evicted = target.drain_node("worker3")  # the pod with emptyDirs and a native sidecar
    assert evicted == ["anomaly-detection-5f7c-c"]
    pods = target.pods()  # gone from the node; its replacement need not be Ready yet
    assert all(p.node != "worker3" for p in pods) and "anomaly-detection-5f7c-c" not in {
        p.name for p in pods}
    deadline = time.monotonic() + 10
    while sum(p.ready for p in target.pods()) < 3:  # the ReplicaSet's replacement comes up
        assert time.monotonic() < deadline, target.pods()
        time.sleep(0.05)
    node = cluster.get("nodes", "", "worker3")
    assert node is not None and node["spec"]["unschedulable"] is True
    assert node["metadata"]["annotations"]["tfsverify.io/cordoned-by"] == "tfsverify"
    assert target.uncordon_node("worker3") == ["worker3"]
    node = cluster.get("nodes", "", "worker3")
    assert node is not None and node["spec"]["unschedulable"] is False
    assert "tfsverify.io/cordoned-by" not in (node["metadata"].get("annotations") or {})


@pytest.mark.parametrize(("pod", "kind"), [("anomaly-detection-5f7c-a", "classic"),
                                           ("anomaly-detection-5f7c-c", "native")])
def test_kill_sidecar_execs_in_istio_proxy_classic_and_native(
        target: KubernetesTarget, cluster: FakeCluster, pod: str, kind: str) -> None:
    before = {p.name: p.restarts for p in target.pods()}
    assert target.kill_sidecar(pod) == [f"{pod}/istio-proxy"]
    assert cluster.execs == [{"pod": pod, "container": "istio-proxy", "command": SIDECAR_KILL}]
    assert {p.name: p.restarts for p in target.pods()}[pod] == before[pod] + 1


def test_kill_sidecar_of_a_pod_without_one_is_an_error(target: KubernetesTarget,
                                                       cluster: FakeCluster) -> None:
    pod = cluster.get("pods", "tfserving", "anomaly-detection-5f7c-a")
    assert pod is not None
    pod["spec"]["containers"] = pod["spec"]["containers"][:1]
    cluster.put("pods", pod)
    with pytest.raises(TargetError, match="has no istio-proxy sidecar"):
        target.kill_sidecar("anomaly-detection-5f7c-a")
    assert cluster.execs == []


def test_fault_patch_clear_restores_the_virtual_service_exactly(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    original = cluster.get(*VS)
    assert original is not None
    target.inject_grpc_fault(GrpcFault("UNAVAILABLE", 25.0, delay_ms=500, delay_pct=10))
    target.inject_grpc_fault(GrpcFault("DEADLINE_EXCEEDED", 5.0))  # the first snapshot stays
    faulted = cluster.get(*VS)
    assert faulted is not None
    route = faulted["spec"]["http"][0]
    assert route["fault"] == {"abort": {"grpcStatus": "DEADLINE_EXCEEDED",
                                        "percentage": {"value": 5.0}}}
    assert json.loads(faulted["metadata"]["annotations"][SNAPSHOT]) == original["spec"]
    assert target.clear_faults() == ["VirtualService/anomaly-detection"]
    restored = cluster.get(*VS)
    assert restored is not None
    assert restored["spec"] == original["spec"]
    assert (restored["metadata"].get("annotations") or {}) == (
        original["metadata"].get("annotations") or {})
    assert target.clear_faults() == []


def test_recover_after_a_crash_restores_the_route_and_uncordons(
        target: KubernetesTarget, cluster: FakeCluster, kube_env: dict[str, str],
        announced: list[str]) -> None:
    original = cluster.get(*VS)
    assert original is not None
    target.inject_grpc_fault(GrpcFault("UNAVAILABLE", 50.0))
    target.drain_node("worker")
    # a new process, knowing nothing of the first: recover finds the marks on the cluster
    fresh = KubernetesTarget.from_environment(kube_env, announced.append)
    assert fresh.recover() == ["VirtualService/anomaly-detection", "Node/worker"]
    restored, node = cluster.get(*VS), cluster.get("nodes", "", "worker")
    assert restored is not None and node is not None
    assert restored["spec"] == original["spec"]
    assert node["spec"]["unschedulable"] is False
    assert fresh.recover() == []


def test_someone_elses_cordon_is_not_uncordoned_by_recover(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    node = cluster.get("nodes", "", "worker2")
    assert node is not None
    node["spec"]["unschedulable"] = True
    cluster.put("nodes", node)
    assert target.recover() == []
    after = cluster.get("nodes", "", "worker2")
    assert after is not None and after["spec"]["unschedulable"] is True


def test_canary_weight_needs_a_canary_route_and_is_restored(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    with pytest.raises(TargetError, match="needs a canary"):
        target.set_canary_weight(10)
    vs = cluster.get(*VS)
    assert vs is not None
    vs["spec"]["http"][0]["route"].append(
        {"destination": {"host": "anomaly-detection", "subset": "canary"}, "weight": 0})
    cluster.put("virtualservices", vs)
    target.set_canary_weight(20)
    weights = [d["weight"] for d in cluster.get(*VS)["spec"]["http"][0]["route"]]  # type: ignore[index]
    assert weights == [80, 20]
    target.clear_faults()
    assert cluster.get(*VS)["spec"] == vs["spec"]  # type: ignore[index]
    with pytest.raises(BadInput):
        target.set_canary_weight(120)


def test_a_concurrent_change_is_a_conflict_not_an_overwrite(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    from tfsverify.targets.kubernetes import faults

    def edit_behind_our_back(spec: dict) -> dict:
        vs = cluster.get(*VS)
        assert vs is not None
        cluster.put("virtualservices", vs)  # bumps the resourceVersion
        return spec

    with pytest.raises(TargetError, match="conflict"):
        faults.change(target.kube, target.settings, edit_behind_our_back, "x", print)


def test_dry_run_changes_nothing_and_says_what_it_would_touch(
        target: KubernetesTarget, cluster: FakeCluster, announced: list[str]) -> None:
    target.settings = replace(target.settings, dry_run=True)
    before = {key: json.dumps(obj, sort_keys=True) for key, obj in cluster.objects.items()}
    assert target.kill_pods(1, seed=3)
    assert target.drain_node("worker") == ["anomaly-detection-5f7c-a"]
    target.kill_sidecar("anomaly-detection-5f7c-c")
    target.inject_grpc_fault(GrpcFault("UNAVAILABLE", 10.0))
    assert target.uncordon_node("worker") == ["worker"]
    assert cluster.mutations() == []
    assert cluster.execs == []
    assert {key: json.dumps(obj, sort_keys=True) for key, obj in cluster.objects.items()} == before
    assert all(line.startswith("dry-run: would ") for line in announced)
    assert any("would evict pod tfserving/anomaly-detection-5f7c-a" in x for x in announced)
    assert any("would cordon node worker" in x for x in announced)
    assert any("would patch VirtualService tfserving/anomaly-detection" in x for x in announced)
