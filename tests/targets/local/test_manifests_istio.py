"""Istio resolution on small hand-made overlays (no kubectl): precedence, routes, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tfsverify.errors import ManifestError
from tfsverify.targets.local.manifests import build_cluster
from tfsverify.targets.local.spec import DeploymentSpec

NS = "tfserving"
HOST = f"svc.{NS}.svc.cluster.local"
LABELS = {"app": "svc", "version": "v1"}
Obj = dict[str, Any]


def workload() -> list[Obj]:
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": NS, "labels": {"istio-injection": "enabled"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "svc", "namespace": NS},
         "spec": {"selector": {"matchLabels": {"app": "svc"}},
                  "template": {"metadata": {"labels": LABELS},
                               "spec": {"containers": [{"name": "server"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": NS},
         "spec": {"selector": {"app": "svc"}, "ports": [{"name": "grpc", "port": 8500}]}},
    ]


def istio(kind: str, name: str, spec: Obj, namespace: str = NS, version: str = "v1") -> Obj:
    group = "security" if kind in ("PeerAuthentication", "AuthorizationPolicy") else "networking"
    return {"apiVersion": f"{group}.istio.io/{version}", "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def peer(name: str, mode: str | None, namespace: str = NS, selector: bool = False) -> Obj:
    spec: Obj = {"mtls": {"mode": mode}} if mode else {}
    if selector:
        spec["selector"] = {"matchLabels": {"app": "svc"}}
    return istio("PeerAuthentication", name, spec, namespace)


def build(*extra: Obj) -> DeploymentSpec:
    (deployment,) = build_cluster([*workload(), *extra], Path(".")).deployments
    return deployment


def test_defaults_without_istio_objects() -> None:
    deployment = build()
    mesh = deployment.mesh
    assert (mesh.mtls_mode, mesh.authorization, mesh.fault, mesh.retries, mesh.timeout_s) == (
        "PERMISSIVE", (), None, None, None)
    assert (mesh.subsets, mesh.route_weights) == ({}, {"": 100})
    assert deployment.service_ports[0].target_port == 8500
    assert deployment.template.service_account == "default"
    assert deployment.template.termination_grace_s == 30.0


@pytest.mark.parametrize(
    ("policies", "mode"),
    [
        ([peer("mesh", "STRICT", "istio-system")], "STRICT"),
        ([peer("mesh", "DISABLE", "istio-system"), peer("ns", "PERMISSIVE")], "PERMISSIVE"),
        ([peer("ns", "STRICT"), peer("workload", "DISABLE", selector=True)], "DISABLE"),
        ([peer("ns", "STRICT"), peer("workload", "UNSET", selector=True)], "STRICT"),
        ([peer("mesh", "STRICT", "istio-system"), peer("workload", None, selector=True)],
         "STRICT"),
        ([peer("root-workload", "STRICT", "istio-system", selector=True)], "PERMISSIVE"),
        ([peer("elsewhere", "STRICT", "other")], "PERMISSIVE"),
    ],
)
def test_peer_authentication_precedence(policies: list[Obj], mode: str) -> None:
    assert build(*policies).mesh.mtls_mode == mode


def test_port_level_mtls_is_listed() -> None:
    policy = peer("workload", "STRICT", selector=True)
    policy["spec"]["portLevelMtls"] = {"8501": {"mode": "PERMISSIVE"}}
    assert "PeerAuthentication/workload: spec.portLevelMtls" in build(policy).ignored


def test_authorization_policies() -> None:
    allow = istio("AuthorizationPolicy", "allow", {
        "rules": [{"from": [{"source": {"principals": ["a"]}}],
                   "when": [{"key": "request.headers[x]", "values": ["y"]}]}]}, version="v1beta1")
    deny = istio("AuthorizationPolicy", "deny-all", {"action": "DENY",
                                                     "selector": {"matchLabels": {"app": "svc"}}})
    custom = istio("AuthorizationPolicy", "ext", {"action": "CUSTOM", "provider": {"name": "x"}})
    other = istio("AuthorizationPolicy", "other", {"selector": {"matchLabels": {"app": "x"}}})
    deployment = build(allow, deny, custom, other)
    assert deployment.mesh.authorization == (
        {"name": "allow", "action": "ALLOW",
         "rules": [{"from": [{"source": {"principals": ["a"]}}]}]},
        {"name": "deny-all", "action": "DENY", "rules": []},
    )
    assert "AuthorizationPolicy/allow: spec.rules[0].when" in deployment.ignored
    assert ("AuthorizationPolicy/ext: spec.action (CUSTOM policies are not applied)"
            in deployment.ignored)


def test_unknown_authorization_action() -> None:
    policy = istio("AuthorizationPolicy", "p", {"action": "PERMIT"})
    with pytest.raises(ManifestError, match=r"^AuthorizationPolicy/p: spec\.action: unknown "
                       r"value 'PERMIT' \(allowed: ALLOW, DENY, AUDIT, CUSTOM\)$"):
        build(policy)


def canary_route(**route: Any) -> Obj:
    return istio("VirtualService", "svc", {
        "hosts": ["svc"],  # the short name, resolved in the VirtualService's namespace
        "http": [{
            "route": [{"destination": {"host": "svc", "subset": "stable"}, "weight": 90},
                      {"destination": {"host": HOST, "subset": "canary"}, "weight": 10}],
            **route,
        }, {"route": [{"destination": {"host": "svc"}}]}],
    }, version="v1alpha3")


def test_virtual_service_route() -> None:
    fault = {"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 10}},
             "delay": {"fixedDelay": "250ms", "percentage": {"value": 5}}}
    rule = istio("DestinationRule", "svc", {
        "host": f"svc.{NS}", "subsets": [
            {"name": "stable", "labels": {"version": "v1"}},
            {"name": "canary", "labels": {"version": "v2"}, "trafficPolicy": {"tls": {}}}]},
        version="v1beta1")
    deployment = build(canary_route(fault=fault, timeout="1m30s", match=[{"port": 8500}]), rule)
    mesh = deployment.mesh
    assert mesh.route_weights == {"stable": 90, "canary": 10}
    assert mesh.fault == fault
    assert mesh.retries is None
    assert mesh.timeout_s == 90.0
    assert mesh.subsets == {"stable": {"version": "v1"}, "canary": {"version": "v2"}}
    assert "VirtualService/svc: spec.http[1]" in deployment.ignored
    assert "VirtualService/svc: spec.http[0].match" in deployment.ignored
    assert "DestinationRule/svc: spec.subsets[1].trafficPolicy.tls" in deployment.ignored


def test_single_destination_without_weight_takes_all() -> None:
    service = istio("VirtualService", "svc", {
        "hosts": [HOST], "http": [{"timeout": "500ms", "retries": {"attempts": 0},
                                   "route": [{"destination": {"host": HOST}}]}]})
    mesh = build(service).mesh
    assert (mesh.route_weights, mesh.timeout_s, mesh.retries) == ({"": 100}, 0.5,
                                                                  {"attempts": 0})


def test_gateway_only_virtual_service_does_not_apply() -> None:
    service = canary_route()
    service["spec"]["gateways"] = ["istio-system/ingress"]
    deployment = build(service)
    assert deployment.mesh.route_weights == {"": 100}
    assert any(entry.startswith("VirtualService/svc: spec.gateways") for entry in
               deployment.ignored)


def test_a_virtual_service_for_another_host_does_not_apply() -> None:
    service = canary_route()
    service["spec"]["hosts"] = ["other"]
    cluster = build_cluster([*workload(), service], Path("."))
    assert cluster.deployments[0].mesh.route_weights == {"": 100}
    assert "VirtualService/svc: applies to no Deployment of the overlay" in cluster.ignored


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"fault": {"abort": {"grpcStatus": "UNAVAILIBLE"}}},
         r"spec\.http\[0\]\.fault\.abort\.grpcStatus: unknown value 'UNAVAILIBLE' \(allowed: OK,"),
        ({"fault": {"delay": {"fixedDelay": "2 s"}}},
         r"spec\.http\[0\]\.fault\.delay\.fixedDelay: '2 s' is not a duration"),
        ({"timeout": "5"}, r"spec\.http\[0\]\.timeout: '5' is not a duration"),
    ],
)
def test_bad_route_values(route: Obj, message: str) -> None:
    with pytest.raises(ManifestError, match="^VirtualService/svc: " + message):
        build(canary_route(**route))
