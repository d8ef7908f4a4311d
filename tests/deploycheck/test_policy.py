"""Each policy check passes on the real overlays and fails, naming itself, on a copy with
the defect it exists to catch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tfsverify.deploycheck.policy import CHECK_IDS, CHECKS, run_policy

Objects = list[dict[str, Any]]
Defect = Callable[[Objects], None]


def find(objects: Objects, kind: str, name: str = "anomaly-detection") -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def pod(objects: Objects, name: str = "anomaly-detection") -> dict[str, Any]:
    spec: dict[str, Any] = find(objects, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def serving(objects: Objects, name: str = "anomaly-detection") -> dict[str, Any]:
    container: dict[str, Any] = pod(objects, name)["containers"][0]
    return container


def drop(objects: Objects, kind: str, name: str = "anomaly-detection") -> None:
    objects.remove(find(objects, kind, name))


def authz_rules(objects: Objects) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = find(objects, "AuthorizationPolicy")["spec"]["rules"]
    return rules


def replicas_2(o: Objects) -> None:
    find(o, "Deployment")["spec"]["replicas"] = 2


def second_pdb(o: Objects) -> None:
    o.append({**find(o, "PodDisruptionBudget"), "metadata": {"name": "extra",
                                                            "namespace": "tfserving"}})


def pod_user_unset(o: Objects) -> None:
    del pod(o)["securityContext"]["runAsUser"]


def probe_port_undeclared(o: Objects) -> None:
    serving(o)["readinessProbe"]["httpGet"]["port"] = 8080


def min_available_all(o: Objects) -> None:
    spec = find(o, "PodDisruptionBudget")["spec"]
    del spec["maxUnavailable"]
    spec["minAvailable"] = "100%"


def model_on_configmap(o: Objects) -> None:
    pod(o)["volumes"][1] = {"name": "models", "configMap": {"name": "tiny-model"}}


DEFECTS: list[tuple[str, str, Defect, str]] = [
    # (check, overlay, defect, text the finding must contain)
    ("replicas-min", "local", replicas_2, "spec.replicas is 2, needs >= 3"),
    ("replicas-min", "gpu", lambda o: find(o, "ScaledObject")["spec"].pop("minReplicaCount"),
     "ScaledObject/anomaly-detection: spec.minReplicaCount is 0"),
    ("pdb-present", "local", lambda o: drop(o, "PodDisruptionBudget"),
     "Deployment/anomaly-detection: no PodDisruptionBudget selects its pods"),
    ("pdb-present", "kind", second_pdb, "2 PodDisruptionBudgets select its pods"),
    ("pdb-satisfiable", "local",
     lambda o: find(o, "PodDisruptionBudget")["spec"].update(maxUnavailable=0),
     "maxUnavailable 0 with 4 pods allows no voluntary disruption"),
    ("pdb-satisfiable", "local", min_available_all,
     "minAvailable 100% with 4 pods allows no voluntary disruption"),
    ("pdb-satisfiable", "local",
     lambda o: find(o, "PodDisruptionBudget")["spec"].pop("unhealthyPodEvictionPolicy"),
     "unhealthyPodEvictionPolicy is IfHealthyBudget, not AlwaysAllow"),
    ("mtls-strict", "local",
     lambda o: find(o, "PeerAuthentication")["spec"]["mtls"].update(mode="PERMISSIVE"),
     "mTLS mode is PERMISSIVE (from PeerAuthentication/anomaly-detection)"),
    ("mtls-strict", "local", lambda o: drop(o, "PeerAuthentication"),
     "no PeerAuthentication applies: Istio's default"),
    ("mtls-strict", "local",
     lambda o: find(o, "Namespace", "tfserving")["metadata"]["labels"].pop("istio-injection"),
     "its pods get no Istio sidecar"),
    ("mtls-strict", "local",
     lambda o: find(o, "PeerAuthentication")["spec"].update(
         portLevelMtls={"8501": {"mode": "PERMISSIVE"}}),
     "portLevelMtls 8501 is PERMISSIVE"),
    ("mtls-strict", "local",
     lambda o: find(o, "DestinationRule")["spec"]["trafficPolicy"].update(tls={"mode": "DISABLE"}),
     "trafficPolicy.tls.mode is DISABLE"),
    ("authz-not-allow-all", "local", lambda o: authz_rules(o).append({}),
     "rules[2] has no `from`: any caller"),
    ("authz-not-allow-all", "local",
     lambda o: authz_rules(o)[0]["from"][0]["source"].update(principals=["*"]),
     "rules[0] allows wildcard principals ['*']"),
    ("authz-not-allow-all", "local",
     lambda o: authz_rules(o)[1]["from"][0].update(source={"namespaces": ["tfsverify"]}),
     "rules[1] has a source without principals (it names namespaces)"),
    ("authz-not-allow-all", "local", lambda o: drop(o, "AuthorizationPolicy"),
     "no ALLOW AuthorizationPolicy applies to its pods"),
    ("probe-ports", "local",
     lambda o: serving(o)["args"].remove("--enable_grpc_healthcheck_service=true"),
     "livenessProbe is a gRPC probe but TF Serving runs without "
     "--enable_grpc_healthcheck_service=true"),
    ("probe-ports", "local", probe_port_undeclared,
     "readinessProbe probes port 8080, which the container does not declare"),
    ("probe-ports", "local",
     lambda o: serving(o)["livenessProbe"]["grpc"].update(
         service="tensorflow.serving.PredictionService"),
     "TF Serving registers only PredictionService and ModelService"),
    ("probe-ports", "local",
     lambda o: serving(o)["readinessProbe"]["httpGet"].update(port="grpc"),
     "readinessProbe is an HTTP probe on 8500, TF Serving's REST port is 8501"),
    ("readiness-model", "local",
     lambda o: serving(o)["readinessProbe"]["httpGet"].update(path="/v1/models/anomaly-detection"),
     "readinessProbe is not an HTTP GET of /v1/models/<name>/metadata"),
    ("non-root", "local", pod_user_unset, "runAsUser is None, needs an explicit non-zero UID"),
    ("non-root", "kind",
     lambda o: pod(o)["initContainers"][0]["securityContext"].update(runAsUser=0),
     "initContainers[fetch-model]: runAsUser is 0"),
    ("non-root", "local",
     lambda o: serving(o)["securityContext"].update(allowPrivilegeEscalation=True),
     "allowPrivilegeEscalation is not false"),
    ("resources-set", "local", lambda o: serving(o).pop("resources"),
     "containers[tensorflow-serving]: requests.cpu, requests.memory, limits.memory not set"),
    ("resources-set", "kind", lambda o: pod(o)["initContainers"][0]["resources"].pop("limits"),
     "initContainers[fetch-model]: limits.memory not set"),
    ("resources-set", "kind-fake-gpu",
     lambda o: serving(o)["resources"]["requests"].update({"nvidia.com/gpu": 2}),
     "nvidia.com/gpu requested as 2 but limited to 1"),
    ("gpu-placement", "kind-fake-gpu", lambda o: pod(o).pop("tolerations"),
     "requests nvidia.com/gpu but does not tolerate the nvidia.com/gpu NoSchedule taint"),
    ("gpu-placement", "kind-fake-gpu", lambda o: pod(o).pop("nodeSelector"),
     "requests nvidia.com/gpu but selects no GPU nodes"),
    ("gpu-placement", "kind",
     lambda o: serving(o).update(image="tensorflow/serving:2.19.1-gpu"),
     "GPU image tensorflow/serving:2.19.1-gpu without a nvidia.com/gpu limit"),
    ("prestop-drain", "local", lambda o: serving(o).pop("lifecycle"), "no lifecycle.preStop hook"),
    ("prestop-drain", "local", lambda o: pod(o).update(terminationGracePeriodSeconds=5),
     "terminationGracePeriodSeconds 5 does not outlast the preStop sleep of 5 s"),
    ("model-store", "local", model_on_configmap,
     "the model at /models/anomaly-detection is on ConfigMap volume 'models'"),
    ("istio-v1", "local",
     lambda o: find(o, "VirtualService").update(apiVersion="networking.istio.io/v1alpha3"),
     "VirtualService/anomaly-detection: apiVersion is networking.istio.io/v1alpha3"),
    ("route-policy", "local", lambda o: find(o, "VirtualService")["spec"]["http"][0].pop("timeout"),
     "http[predict] leaves timeout to the mesh default"),
    ("route-policy", "local",
     lambda o: find(o, "VirtualService")["spec"]["http"][0]["retries"].update(
         retryOn="unavailable,connect-failure"),
     "http[predict] retries on unavailable"),
    ("route-policy", "local",
     lambda o: find(o, "VirtualService")["spec"]["http"][0].update(
         fault={"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 10}}}),
     "http[predict] carries a fault"),
    ("rbac-least-privilege", "kind",
     lambda o: find(o, "Role", "tfsverify-chaos-runner")["rules"][0].update(verbs=["*"]),
     "Role/tfsverify-chaos-runner: rules[0] grants '*' in verbs"),
    ("rbac-least-privilege", "kind",
     lambda o: find(o, "ClusterRole", "tfsverify-chaos-runner")["rules"].append(
         {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}),
     "rules[2] grants delete on pods in every namespace"),
    ("rbac-least-privilege", "kind",
     lambda o: find(o, "ClusterRole", "tfsverify-chaos-runner")["rules"][0]["verbs"].append(
         "impersonate"),
     "rules[0] grants impersonate"),
    ("chaos-opt-in", "kind",
     lambda o: find(o, "Namespace", "tfserving")["metadata"]["labels"].pop("tfsverify.io/chaos"),
     "Namespace/tfserving: holds the serving workloads but is not labelled"),
]


@pytest.mark.parametrize("name", ["local", "kind", "kind-fake-gpu", "gpu"])
def test_the_reference_overlays_pass_every_check(rendered: dict[str, Objects],
                                                 name: str) -> None:
    assert [str(f) for f in run_policy(rendered[name])] == []


@pytest.mark.parametrize(("check", "name", "defect", "expected"), DEFECTS,
                         ids=[f"{d[0]}-{i}" for i, d in enumerate(DEFECTS)])
def test_a_defect_fails_the_check_that_names_it(overlay: Callable[[str], Objects], check: str,
                                                name: str, defect: Defect,
                                                expected: str) -> None:
    objects = overlay(name)
    defect(objects)
    lines = [str(f) for f in run_policy(objects) if f.check == check]
    assert any(expected in line for line in lines), lines
    line = next(line for line in lines if expected in line)
    assert line.startswith(f"{check}: ") and " — " in line  # "id: Kind/name: what — why"


def test_every_check_has_a_defect_test() -> None:
    assert {d[0] for d in DEFECTS} == set(CHECK_IDS)
    assert len({c.id for c in CHECKS}) == len(CHECKS)


def test_the_canary_track_is_exempt_from_the_replica_floor(rendered: dict[str, Objects]) -> None:
    canary = find(rendered["kind"], "Deployment", "anomaly-detection-canary")
    assert canary["spec"]["replicas"] == 1
    assert not [f for f in run_policy(rendered["kind"], ["replicas-min"])]


def test_a_workload_policy_left_unset_inherits_the_namespace_strict(
        overlay: Callable[[str], Objects]) -> None:
    objects = overlay("local")
    find(objects, "PeerAuthentication")["spec"]["mtls"]["mode"] = "UNSET"
    objects.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                    "metadata": {"name": "default", "namespace": "tfserving"},
                    "spec": {"mtls": {"mode": "STRICT"}}})
    assert run_policy(objects, ["mtls-strict"]) == []


def test_unknown_check_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="no-such-check"):
        run_policy([], ["no-such-check"])
