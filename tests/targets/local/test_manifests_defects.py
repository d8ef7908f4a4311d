"""Defects applied to a copy of the rendered `local` overlay: each shows in the spec or fails."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tfsverify.errors import ManifestError
from tfsverify.targets.local.manifests import build_cluster, render_overlay
from tfsverify.targets.local.spec import DeploymentSpec

OVERLAY = Path(__file__).resolve().parents[3] / "reference-deploy" / "overlays" / "local"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def rendered() -> Objects:
    return render_overlay(OVERLAY)


@pytest.fixture
def objects(rendered: Objects) -> Objects:
    return copy.deepcopy(rendered)


def one(objects: Objects, kind: str) -> dict[str, Any]:
    """The one object of ``kind`` of the stable track (the canary track's are left alone)."""
    (found,) = [obj for obj in objects
                if obj["kind"] == kind and "canary" not in obj["metadata"]["name"]]
    return found


def pod_spec(objects: Objects) -> dict[str, Any]:
    spec: dict[str, Any] = one(objects, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(objects: Objects) -> dict[str, Any]:
    found: dict[str, Any] = pod_spec(objects)["containers"][0]
    return found


def build(objects: Objects) -> DeploymentSpec:
    stable, _canary = build_cluster(objects, OVERLAY).deployments
    return stable


def test_the_copy_builds_unchanged(objects: Objects) -> None:
    assert build(objects).replicas == 3


def test_one_replica(objects: Objects) -> None:
    one(objects, "Deployment")["spec"]["replicas"] = 1
    assert build(objects).replicas == 1


def test_replicas_default_to_one(objects: Objects) -> None:
    del one(objects, "Deployment")["spec"]["replicas"]
    assert build(objects).replicas == 1


def test_no_budget(objects: Objects) -> None:
    objects.remove(one(objects, "PodDisruptionBudget"))
    assert build(objects).budget is None


def test_budget_as_a_percentage(objects: Objects) -> None:
    spec = one(objects, "PodDisruptionBudget")["spec"]
    del spec["maxUnavailable"], spec["unhealthyPodEvictionPolicy"]
    spec["minAvailable"] = "50%"
    budget = build(objects).budget
    assert budget is not None
    assert (budget.min_available, budget.max_unavailable) == ("50%", None)
    assert budget.unhealthy_pod_eviction_policy == "IfHealthyBudget"


def test_budget_selecting_other_pods_is_no_budget(objects: Objects) -> None:
    one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] = {"app": "other"}
    cluster = build_cluster(objects, OVERLAY)
    assert cluster.deployments[0].budget is None
    assert ("PodDisruptionBudget/anomaly-detection: applies to no Deployment of the overlay"
            in cluster.ignored)


def test_two_budgets_are_refused(objects: Objects) -> None:
    second = copy.deepcopy(one(objects, "PodDisruptionBudget"))
    second["metadata"]["name"] = "second"
    objects.append(second)
    with pytest.raises(ManifestError, match=r"more than one PodDisruptionBudget .*second"):
        build(objects)


def test_permissive_mtls(objects: Objects) -> None:
    one(objects, "PeerAuthentication")["spec"]["mtls"]["mode"] = "PERMISSIVE"
    assert build(objects).mesh.mtls_mode == "PERMISSIVE"


def test_no_peer_authentication_is_permissive(objects: Objects) -> None:
    objects.remove(one(objects, "PeerAuthentication"))
    assert build(objects).mesh.mtls_mode == "PERMISSIVE"


def test_unknown_mtls_mode(objects: Objects) -> None:
    one(objects, "PeerAuthentication")["spec"]["mtls"]["mode"] = "STRIKT"
    with pytest.raises(ManifestError) as caught:
        build(objects)
    assert str(caught.value) == (
        "PeerAuthentication/anomaly-detection: spec.mtls.mode: unknown value 'STRIKT' "
        "(allowed: STRICT, PERMISSIVE, DISABLE, UNSET)")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("requests", {"cpu": "half"}, "resources.requests.cpu: 'half' is not a quantity"),
        ("requests", {"memory": "1Gb"}, "resources.requests.memory: '1Gb' has an unknown suffix"),
        ("limits", {"nvidia.com/gpu": "0.5"}, "resources.limits.nvidia.com/gpu: '0.5' is not a"),
        ("requests", {"cpu": "-1"}, "resources.requests.cpu: '-1' is negative"),
    ],
)
def test_bad_quantity(objects: Objects, field: str, value: dict[str, str], message: str) -> None:
    container(objects)["resources"][field] = value
    prefix = "Deployment/anomaly-detection: spec.template.spec.containers[0]."
    with pytest.raises(ManifestError, match="^" + re.escape(prefix + message)):
        build(objects)


def test_request_defaults_to_limit(objects: Objects) -> None:
    container(objects)["resources"] = {"limits": {"cpu": "1", "nvidia.com/gpu": 1}}
    (built,) = build(objects).template.containers
    assert (built.requests.cpu_m, built.requests.gpu, built.limits.cpu_m) == (1000, 1, 1000)


def test_request_above_limit_is_refused(objects: Objects) -> None:
    container(objects)["resources"] = {"requests": {"memory": "3Gi"}, "limits": {"memory": "2Gi"}}
    with pytest.raises(ManifestError, match=r"resources\.requests\.memory: is more than its limit"):
        build(objects)


def test_selector_mismatch(objects: Objects) -> None:
    one(objects, "Deployment")["spec"]["selector"]["matchLabels"]["version"] = "v2"
    with pytest.raises(ManifestError, match=r"^Deployment/anomaly-detection: "
                       r"spec\.selector\.matchLabels: .* does not select the template labels"):
        build(objects)


def test_probe_port_by_name(objects: Objects) -> None:
    container(objects)["readinessProbe"]["httpGet"]["port"] = "http-rest"
    container(objects)["livenessProbe"] = {"tcpSocket": {"port": "grpc"}}
    (built,) = build(objects).template.containers
    assert built.readiness is not None and built.readiness.http_port == 8501
    assert built.liveness is not None and built.liveness.tcp_port == 8500
    assert (built.liveness.period_s, built.liveness.failure_threshold) == (10.0, 3)


def test_probe_port_name_unknown(objects: Objects) -> None:
    container(objects)["readinessProbe"]["httpGet"]["port"] = "http"
    with pytest.raises(ManifestError) as caught:
        build(objects)
    assert str(caught.value) == (
        "Deployment/anomaly-detection: spec.template.spec.containers[0].readinessProbe.httpGet"
        ".port: no container port named 'http' (ports: grpc, http-rest)")


def test_grpc_probe_port_by_name_is_refused(objects: Objects) -> None:
    container(objects)["livenessProbe"]["grpc"]["port"] = "grpc"
    with pytest.raises(ManifestError, match="a gRPC probe port must be a number"):
        build(objects)


def test_exec_probe_is_not_run_and_listed(objects: Objects) -> None:
    container(objects)["livenessProbe"] = {"exec": {"command": ["true"]}}
    deployment = build(objects)
    assert deployment.template.containers[0].liveness is None
    assert ("Deployment/anomaly-detection: spec.template.spec.containers[0].livenessProbe.exec"
            in deployment.ignored)


def test_prestop_exec_sleep(objects: Objects) -> None:
    container(objects)["lifecycle"] = {"preStop": {"exec": {"command": ["/bin/sleep", "7"]}}}
    assert build(objects).template.containers[0].pre_stop_sleep_s == 7.0


def test_sidecar_injection_disabled_per_pod(objects: Objects) -> None:
    template = one(objects, "Deployment")["spec"]["template"]
    template["metadata"]["annotations"]["sidecar.istio.io/inject"] = "false"
    assert build(objects).template.sidecar_injected is False


def test_namespace_without_injection_label(objects: Objects) -> None:
    del one(objects, "Namespace")["metadata"]["labels"]["istio-injection"]
    assert build(objects).template.sidecar_injected is False


def test_scheduling_fields(objects: Objects) -> None:
    spec = pod_spec(objects)
    spec["nodeSelector"] = {"nvidia.com/gpu.present": "true"}
    spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists",
                            "effect": "NoSchedule", "tolerationSeconds": 5}]
    deployment = build(objects)
    template = deployment.template
    assert template.node_selector == {"nvidia.com/gpu.present": "true"}
    (toleration,) = template.tolerations
    assert (toleration.key, toleration.operator, toleration.value, toleration.effect) == (
        "nvidia.com/gpu", "Exists", None, "NoSchedule")
    assert ("Deployment/anomaly-detection: spec.template.spec.tolerations[0].tolerationSeconds"
            in deployment.ignored)


@pytest.mark.parametrize(
    ("where", "key", "value", "path"),
    [
        ("toleration", "operator", "Equals", "tolerations[0].operator"),
        ("toleration", "effect", "NoExec", "tolerations[0].effect"),
        ("spread", "whenUnsatisfiable", "Never", "topologySpreadConstraints[0].whenUnsatisfiable"),
        ("pod", "restartPolicy", "OnFailure", "restartPolicy"),
    ],
)
def test_unknown_enumerated_values(objects: Objects, where: str, key: str, value: str,
                                   path: str) -> None:
    spec = pod_spec(objects)
    target = {
        "toleration": lambda: spec.setdefault("tolerations", [{"key": "a", "value": "b"}])[0],
        "spread": lambda: spec["topologySpreadConstraints"][0],
        "pod": lambda: spec,
    }[where]()
    target[key] = value
    expected = f"spec.template.spec.{path}: unknown value '{value}' (allowed: "
    with pytest.raises(ManifestError, match=re.escape(expected)):
        build(objects)


def test_unknown_taint_effect(objects: Objects) -> None:
    node = next(obj for obj in objects if obj["kind"] == "Node" and "spec" in obj)
    node["spec"]["taints"][0]["effect"] = "NoScheduling"
    with pytest.raises(ManifestError, match=r"^Node/gpu-node-a: spec\.taints\[0\]\.effect: "
                       "unknown value 'NoScheduling'"):
        build(objects)


def test_unknown_eviction_policy(objects: Objects) -> None:
    one(objects, "PodDisruptionBudget")["spec"]["unhealthyPodEvictionPolicy"] = "Always"
    with pytest.raises(ManifestError, match="unhealthyPodEvictionPolicy: unknown value 'Always' "
                       r"\(allowed: IfHealthyBudget, AlwaysAllow\)"):
        build(objects)


def test_node_capacity_is_the_fallback(objects: Objects) -> None:
    node = next(obj for obj in objects if obj["kind"] == "Node" and obj["metadata"]["name"]
                == "node-a")
    node["status"] = {"allocatable": {"cpu": "1500m"},
                      "capacity": {"cpu": "2", "memory": "4G", "nvidia.com/gpu": "2"}}
    built = {n.name: n for n in build_cluster(objects, OVERLAY).nodes}["node-a"]
    assert (built.allocatable.cpu_m, built.allocatable.memory_b, built.allocatable.gpu) == (
        1500, 4 * 10**9, 2)
    assert built.max_pods == 110


def test_configmap_missing(objects: Objects) -> None:
    objects.remove(one(objects, "ConfigMap"))
    with pytest.raises(ManifestError, match=r"volumes\[0\]\.configMap\.name: no ConfigMap "
                       "'tfserving-config-[a-z0-9]+' in namespace tfserving"):
        build(objects)


def test_configmap_by_unhashed_name(objects: Objects) -> None:
    pod_spec(objects)["volumes"][0]["configMap"] = {
        "name": "tfserving-config", "items": [{"key": "models.config", "path": "m.cfg"}]}
    volume = build(objects).template.volumes[0]
    assert list(volume.files) == ["m.cfg"] and "model_config_list" in volume.files["m.cfg"]


def test_no_service_is_refused(objects: Objects) -> None:
    objects.remove(one(objects, "Service"))
    with pytest.raises(ManifestError, match="no Service selects these pods"):
        build(objects)


def test_unknown_kinds_are_listed(objects: Objects) -> None:
    objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "deny-all", "namespace": "tfserving"}, "spec": {}})
    cluster = build_cluster(objects, OVERLAY)
    assert "NetworkPolicy/deny-all: not modelled by the local target" in cluster.ignored


def test_unknown_istio_version_is_refused(objects: Objects) -> None:
    one(objects, "PeerAuthentication")["apiVersion"] = "security.istio.io/v2"
    with pytest.raises(ManifestError, match=r"^PeerAuthentication/anomaly-detection: apiVersion: "
                       "unknown value 'security.istio.io/v2'"):
        build(objects)


def test_build_does_not_change_its_input(objects: Objects, rendered: Objects) -> None:
    build(objects)
    assert objects == rendered
