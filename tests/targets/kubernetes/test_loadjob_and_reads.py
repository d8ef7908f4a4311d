"""The in-mesh load Job manifest, and reads on the fake cluster."""

from __future__ import annotations

from fake_api import FakeCluster

from tfsverify.targets.kubernetes import KubernetesTarget
from tfsverify.targets.kubernetes.loadjob import load_job


def test_load_job_runs_as_loadgen_with_a_sidecar_that_quits_at_the_end() -> None:
    job = load_job("load-1", "ghcr.io/tfsverify/tfsverify:1", rate_rps=50, duration_s=60)
    template = job["spec"]["template"]
    assert job["metadata"]["namespace"] == "tfsverify"
    assert template["spec"]["serviceAccountName"] == "loadgen"
    assert template["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"
    script = template["spec"]["containers"][0]["command"][2]
    assert script.startswith("tfsverify load --profile steady --address "
                             "anomaly-detection.tfserving.svc.cluster.local:8500 --plaintext "
                             "--stream --rate 50 --duration 60; rc=$?;")
    assert "15020/quitquitquit" in script and script.endswith("exit $rc")


def test_a_profile_document_travels_in_the_environment() -> None:
    job = load_job("load-1", "img", profile="my profile", profile_document="kind: constant",
                   duration_s=600)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "TFSVERIFY_LOAD_PROFILE", "value": "kind: constant"}]
    script = container["command"][2]
    assert script.startswith('printf \'%s\\n\' "$TFSVERIFY_LOAD_PROFILE" > /tmp/my-profile.yaml '
                             "&& tfsverify load --profile /tmp/my-profile.yaml ")


def test_readiness_comes_from_the_ready_condition_not_the_phase(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    pod = cluster.get("pods", "tfserving", "anomaly-detection-5f7c-b")
    assert pod is not None
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]  # Running, loading
    cluster.put("pods", pod)
    by_name = {p.name: p for p in target.pods()}
    assert by_name["anomaly-detection-5f7c-b"].phase == "Running"
    assert by_name["anomaly-detection-5f7c-b"].ready is False
    assert "10.244.1.7:8500" not in target.endpoint().addresses
    assert len(target.endpoint().addresses) == 2


def test_status_has_the_published_keys(target: KubernetesTarget) -> None:
    status = target.status()
    assert {"target", "pods", "nodes", "tls", "model"} <= set(status)
    assert status["target"] == "kubernetes"
    assert status["model"] is None  # no TF Serving reachable from the test
    assert {n["name"]: n["gpu"] for n in status["nodes"]} == {"worker": 0, "worker2": 0,
                                                              "worker3": 1}
