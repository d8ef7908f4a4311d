"""The real `local` overlay of reference-deploy/, rendered by kubectl, read into a ClusterSpec."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tfsverify.errors import ManifestError, TargetError
from tfsverify.targets.local.manifests import (
    first_error_line,
    load_documents,
    read_cluster,
    render_overlay,
)
from tfsverify.targets.local.spec import ClusterSpec, DeploymentSpec

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "reference-deploy"
OVERLAY = REFERENCE / "overlays" / "local"
DATA = Path(__file__).parent / "data" / "manifests"

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")


@pytest.fixture(scope="module")
def cluster() -> ClusterSpec:
    return read_cluster(OVERLAY)


@pytest.fixture(scope="module")
def deployment(cluster: ClusterSpec) -> DeploymentSpec:
    assert [d.name for d in cluster.deployments] == ["anomaly-detection",
                                                     "anomaly-detection-canary"]
    return cluster.deployments[0]


@needs_kubectl
def test_the_canary_track_is_a_second_deployment_behind_the_same_service(
        cluster: ClusterSpec) -> None:
    stable, canary = cluster.deployments
    assert (canary.replicas, canary.selector) == (
        1, {"app": "anomaly-detection", "version": "v2"})
    assert canary.service_host == stable.service_host
    assert stable.mesh.subsets == {"stable": {"version": "v1"}, "canary": {"version": "v2"}}
    assert stable.mesh.route_weights == {"stable": 100, "canary": 0}
    for deployment in (stable, canary):  # components/gpu places both on GPU nodes
        assert deployment.template.node_selector == {"nvidia.com/gpu.present": "true"}


@needs_kubectl
def test_deployment_replicas_service_and_budget(deployment: DeploymentSpec) -> None:
    assert deployment.namespace == "tfserving"
    assert deployment.replicas == 3
    assert deployment.selector == {"app": "anomaly-detection", "version": "v1"}
    assert deployment.service_host == "anomaly-detection.tfserving.svc.cluster.local"
    assert [(p.name, p.port, p.app_protocol) for p in deployment.service_ports] == [
        ("grpc", 8500, "grpc"), ("http-rest", 8501, "http")]
    budget = deployment.budget
    assert budget is not None
    assert (budget.max_unavailable, budget.min_available) == (1, None)
    assert budget.unhealthy_pod_eviction_policy == "AlwaysAllow"


@needs_kubectl
def test_three_cpu_nodes_and_five_tainted_gpu_nodes(cluster: ClusterSpec) -> None:
    gpu_names = [f"gpu-node-{x}" for x in "abcde"]
    assert sorted(node.name for node in cluster.nodes) == [*gpu_names, "node-a", "node-b",
                                                           "node-c"]
    gpu = [node for node in cluster.nodes if node.allocatable.gpu]
    assert sorted(node.name for node in gpu) == gpu_names
    assert all(node.allocatable.gpu == 1 for node in gpu)
    assert all(node.allocatable.cpu_m == 4000 for node in gpu)
    assert gpu[0].allocatable.memory_b == 12 * 2**30
    assert gpu[0].max_pods == 10
    assert [(t.key, t.value, t.effect) for t in gpu[0].taints] == [
        ("nvidia.com/gpu", "present", "NoSchedule")]
    assert all(not node.taints for node in cluster.nodes if node not in gpu)


@needs_kubectl
def test_container_probes_resources_and_lifecycle(deployment: DeploymentSpec) -> None:
    template = deployment.template
    assert template.sidecar_injected is True
    assert template.service_account == "anomaly-detection"
    assert template.termination_grace_s == 20.0
    (container,) = template.containers
    assert container.ports == {"grpc": 8500, "http-rest": 8501}
    assert "--enable_grpc_healthcheck_service=true" in container.args
    assert container.requests.cpu_m == 500
    assert container.requests.memory_b == 2**30
    assert container.limits.memory_b == 2 * 2**30
    readiness, liveness, startup = container.readiness, container.liveness, container.startup
    assert readiness is not None and liveness is not None and startup is not None
    assert (readiness.http_port, readiness.http_path, readiness.grpc_port) == (
        8501, "/v1/models/anomaly-detection/metadata", None)
    assert (readiness.period_s, readiness.failure_threshold, readiness.timeout_s) == (2.0, 2, 2.0)
    assert (liveness.grpc_port, liveness.http_port, liveness.period_s) == (8500, None, 5.0)
    assert (startup.grpc_port, startup.failure_threshold, startup.period_s) == (8500, 120, 1.0)
    assert startup.success_threshold == 1 and startup.initial_delay_s == 0.0
    assert container.pre_stop_sleep_s == 5.0
    assert container.mounts == {"/config": "config", "/models": "models", "/tmp": "tmp"}
    spread = template.topology_spread
    assert [(s.max_skew, s.topology_key, s.when_unsatisfiable) for s in spread] == [
        (1, "kubernetes.io/hostname", "ScheduleAnyway")]


@needs_kubectl
def test_volumes_configmap_files_hostpath_and_emptydir(deployment: DeploymentSpec) -> None:
    volumes = {volume.name: volume for volume in deployment.template.volumes}
    config_text = (REFERENCE / "base" / "config" / "models.config").read_text()
    assert volumes["config"].files["models.config"] == config_text
    assert set(volumes["config"].files) == {"models.config", "monitoring.config"}
    assert volumes["models"].host_path == (REFERENCE / "model").resolve()
    assert volumes["tmp"].empty_dir and volumes["tmp"].host_path is None


@needs_kubectl
def test_mesh_policy(deployment: DeploymentSpec) -> None:
    mesh = deployment.mesh
    assert mesh.mtls_mode == "STRICT"
    (policy,) = mesh.authorization
    assert (policy["name"], policy["action"]) == ("anomaly-detection", "ALLOW")
    principals = [rule["from"][0]["source"]["principals"] for rule in policy["rules"]]
    assert principals == [["cluster.local/ns/tfsverify/sa/loadgen"],
                          ["cluster.local/ns/tfsverify/sa/model-admin"]]
    assert policy["rules"][0]["to"] == [
        {"operation": {"paths": ["/tensorflow.serving.PredictionService/*"]}}]
    assert mesh.fault is None
    assert mesh.retries == {"attempts": 1, "perTryTimeout": "2s",
                            "retryOn": "connect-failure,refused-stream"}
    assert mesh.timeout_s == 5.0
    assert mesh.subsets == {"stable": {"version": "v1"}, "canary": {"version": "v2"}}
    assert mesh.route_weights == {"stable": 100, "canary": 0}


@needs_kubectl
def test_ignored_lists_unmodelled_fields_and_kinds(cluster: ClusterSpec,
                                                   deployment: DeploymentSpec) -> None:
    prefix = "Deployment/anomaly-detection: spec.template.spec."
    assert f"{prefix}securityContext" in deployment.ignored
    assert f"{prefix}containers[0].image" in deployment.ignored
    assert f"{prefix}containers[0].securityContext.readOnlyRootFilesystem" in deployment.ignored
    assert ("DestinationRule/anomaly-detection: spec.trafficPolicy.outlierDetection"
            in deployment.ignored)
    assert not any(".args" in entry or "livenessProbe" in entry for entry in deployment.ignored)
    assert cluster.ignored == (
        "ServiceAccount/anomaly-detection: not modelled by the local target",
        "NetworkPolicy/anomaly-detection: not modelled by the local target",
        "NetworkPolicy/default-deny: not modelled by the local target")


@needs_kubectl
def test_read_cluster_renders_an_edited_copy(tmp_path: Path) -> None:
    copy = tmp_path / "reference-deploy"
    shutil.copytree(REFERENCE, copy, ignore=shutil.ignore_patterns("model"))
    (copy / "model").mkdir()
    manifest = copy / "base" / "deployment.yaml"
    text = manifest.read_text()
    assert "replicas: 3" in text
    manifest.write_text(text.replace("replicas: 3", "replicas: 5"))
    cluster = read_cluster(copy / "overlays" / "local")
    assert cluster.deployments[0].replicas == 5
    volumes = {volume.name: volume for volume in cluster.deployments[0].template.volumes}
    assert volumes["models"].host_path == (copy / "model").resolve()


@needs_kubectl
def test_kustomize_failures_are_manifest_errors() -> None:
    with pytest.raises(ManifestError, match=r"kubectl kustomize failed: .*yaml: line \d+"):
        render_overlay(DATA / "broken-yaml")
    with pytest.raises(ManifestError, match=r"kubectl kustomize failed: .*no-such-file\.yaml"):
        render_overlay(DATA / "missing-resource")
    with pytest.raises(ManifestError, match="not a kustomize overlay directory"):
        render_overlay(DATA / "no-such-overlay")


def test_missing_kubectl_is_a_target_error(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TargetError, match="kubectl not found"):
        render_overlay(OVERLAY)
    assert os.environ["PATH"] == str(tmp_path)


def test_broken_yaml_names_the_file_and_line() -> None:
    path = DATA / "broken-yaml" / "deployment.yaml"
    with pytest.raises(ManifestError, match=r"deployment\.yaml: line 13, column \d+: malformed"):
        load_documents(path.read_text(), str(path))


def test_a_document_that_is_not_an_object_is_refused() -> None:
    path = DATA / "not-an-object" / "objects.yaml"
    with pytest.raises(ManifestError, match=r"objects\.yaml: document 2: not a Kubernetes object"):
        load_documents(path.read_text(), str(path))


def test_first_error_line_reads_klog_lines() -> None:
    stderr = ('E1126 08:02:23.152175 4867 run.go:72] "command failed" '
              'err="accumulating resources: \\"x\\" missing"\nmore\n')
    assert first_error_line(stderr) == 'accumulating resources: "x" missing'
    assert first_error_line("\nerror: must build at directory\n") == "must build at directory"
    assert first_error_line("") == ""
