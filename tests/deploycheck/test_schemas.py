"""Schema validation: Kubernetes 1.29 to current (kubernetes-validate), Istio/KEDA/Prometheus
Operator CRDs (cloudcoil models), offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tfsverify.deploycheck import schemas

Objects = list[dict[str, Any]]


def find(objects: Objects, kind: str, name: str = "anomaly-detection") -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def lines(objects: Objects) -> list[str]:
    return [str(f) for f in schemas.validate(objects)]


def test_the_supported_kubernetes_versions_run_from_1_29_to_the_newest_shipped() -> None:
    versions = schemas.kube_versions()
    assert versions[0] == "1.29"
    assert len(versions) >= 8 and versions == sorted(set(versions), key=lambda v: int(v[2:]))


@pytest.mark.parametrize("name", ["local", "kind", "kind-fake-gpu", "gpu"])
def test_every_object_of_every_overlay_is_valid(rendered: dict[str, Objects], name: str) -> None:
    assert lines(rendered[name]) == []


def test_every_kind_of_the_overlays_has_a_schema(rendered: dict[str, Objects]) -> None:
    kinds = {(o["apiVersion"], o["kind"]) for objects in rendered.values() for o in objects}
    assert ("networking.istio.io/v1", "VirtualService") in kinds
    for api_version, kind in kinds:
        if api_version in schemas.CRD_MODULES:
            assert schemas.crd_model(api_version, kind) is not None, kind


def test_an_unknown_kubernetes_field_is_rejected_with_its_path_and_versions(
        overlay: Callable[[str], Objects]) -> None:
    objects = overlay("local")
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    (line,) = lines([find(objects, "Deployment")])
    assert line.startswith("schema-k8s: Deployment/anomaly-detection: "
                           "spec.template.spec.containers.0: ")
    assert "'livenesProbe' was unexpected" in line and "Kubernetes 1.29 to 1." in line


def test_a_wrong_type_is_rejected(overlay: Callable[[str], Objects]) -> None:
    objects = overlay("local")
    find(objects, "Deployment")["spec"]["replicas"] = "three"
    (line,) = lines([find(objects, "Deployment")])
    assert "spec.replicas: 'three' is not of type 'integer'" in line


def test_a_removed_api_version_is_named(overlay: Callable[[str], Objects]) -> None:
    budget = find(overlay("local"), "PodDisruptionBudget")
    budget["apiVersion"] = "policy/v1beta1"
    (line,) = lines([budget])
    assert line.startswith("schema-k8s: PodDisruptionBudget/anomaly-detection: no schema for "
                           "PodDisruptionBudget policy/v1beta1")


def test_an_unknown_kind_is_a_finding_not_a_pass() -> None:
    (line,) = lines([{"apiVersion": "example.com/v1", "kind": "Widget",
                      "metadata": {"name": "w"}}])
    assert line.startswith("schema-k8s: Widget/w: no schema for Widget example.com/v1")


@pytest.mark.parametrize(("kind", "overlay_name", "defect", "expected"), [
    ("PeerAuthentication", "local", lambda s: s["mtls"].update(mode="STRICTLY"),
     "spec.mtls.mode: Input should be 'UNSET', 'DISABLE', 'PERMISSIVE' or 'STRICT'"),
    ("PeerAuthentication", "local", lambda s: s.update(mtsl=s.pop("mtls")),
     "spec.mtsl: unknown field"),
    ("VirtualService", "local", lambda s: s["http"][0]["retries"].update(atempts=2),
     "spec.http[0].retries.atempts: unknown field"),
    ("AuthorizationPolicy", "local", lambda s: s.update(action="PERMIT"),
     "spec.action: Input should be 'ALLOW', 'DENY', 'AUDIT' or 'CUSTOM'"),
    ("ScaledObject", "gpu", lambda s: s.update(minReplicaCount="three"),
     "spec.minReplicaCount: Input should be a valid integer"),
    ("PodMonitor", "kind", lambda s: s["podMetricsEndpoints"][0].update(portNumbr=15020),
     "spec.podMetricsEndpoints[0].portNumbr: unknown field"),
])
def test_crd_defects_are_rejected_by_the_crd_schema(overlay: Callable[[str], Objects], kind: str,
                                                    overlay_name: str,
                                                    defect: Callable[[dict[str, Any]], None],
                                                    expected: str) -> None:
    obj = find(overlay(overlay_name), kind)
    defect(obj["spec"])
    found = lines([obj])
    assert any(line.startswith(f"schema-crd: {kind}/anomaly-detection: {expected}")
               for line in found), found
    assert all("CRD schema (cloudcoil-models-" in line for line in found)
