"""Mesh checks: STRICT mTLS that is really enforced, authorization by named principals,
Istio v1 APIs, explicit retry and timeout policy on the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tfsverify.deploycheck.findings import Finding, ref
from tfsverify.deploycheck.inventory import (
    REPLICATED_KINDS,
    Inventory,
    as_list,
    as_map,
    namespace_of,
    pod_annotations,
    pod_labels,
    selects,
)

ROOT_NAMESPACE = "istio-system"
ISTIO_GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io")
# kinds that exist only in an older version of their group
ISTIO_NOT_IN_V1 = ("EnvoyFilter", "ProxyConfig")
RISKY_RETRY_ON = ("unavailable", "resource-exhausted")
WHY_PLAINTEXT = ("plaintext callers are accepted, so the caller's identity is not proven and "
                 "the AuthorizationPolicy's principals can be bypassed")


def meshed(inv: Inventory, workload: dict[str, Any]) -> bool | None:
    """Whether the workload's pods get an Istio sidecar; None when the overlay cannot tell
    (its namespace is not defined there)."""
    opt = pod_annotations(workload).get("sidecar.istio.io/inject") or pod_labels(workload).get(
        "sidecar.istio.io/inject")
    if opt in ("true", "false"):
        return opt == "true"
    labels = inv.namespace_labels(namespace_of(workload))
    if labels is None:
        return None
    return labels.get("istio-injection") == "enabled" or "istio.io/rev" in labels


def _applies(policy: dict[str, Any], workload: dict[str, Any]) -> bool:
    """Whether an Istio policy (selector-scoped, namespace-wide or root) covers the pods."""
    namespace = namespace_of(policy)
    selector = as_map(as_map(policy.get("spec")).get("selector"))
    if namespace == ROOT_NAMESPACE and not selector:
        return True
    if namespace != namespace_of(workload):
        return False
    return not selector or selects(selector, pod_labels(workload))


def _mode(policy: dict[str, Any] | None) -> str | None:
    mode = as_map(as_map(as_map(policy).get("spec")).get("mtls")).get("mode")
    return None if mode in (None, "UNSET") else str(mode)


def check_mtls_strict(inv: Inventory) -> Iterator[Finding]:
    policies = inv.of_kind("PeerAuthentication")
    for workload in inv.workloads(REPLICATED_KINDS):
        if meshed(inv, workload) is False:
            yield Finding("mtls-strict", ref(workload),
                          f"its pods get no Istio sidecar (namespace {namespace_of(workload)} "
                          "lacks istio-injection=enabled, or the pod opts out)",
                          "without a sidecar nothing terminates mTLS: PeerAuthentication and "
                          "AuthorizationPolicy do not apply to these pods")
            continue
        applying = [p for p in policies if _applies(p, workload)]
        levels = (
            [p for p in applying if as_map(as_map(p.get("spec")).get("selector"))],
            [p for p in applying if not as_map(as_map(p.get("spec")).get("selector"))
             and namespace_of(p) != ROOT_NAMESPACE],
            [p for p in applying if namespace_of(p) == ROOT_NAMESPACE],
        )
        source = next((level[0] for level in levels if level and _mode(level[0])), None)
        mode = _mode(source)
        if mode != "STRICT":
            origin = (f"from {ref(source)}" if source
                      else "no PeerAuthentication applies: Istio's default")
            yield Finding("mtls-strict", ref(workload),
                          f"mTLS mode is {mode or 'PERMISSIVE'} ({origin})", WHY_PLAINTEXT)
        for policy in levels[0]:
            for port, setting in as_map(as_map(policy.get("spec")).get("portLevelMtls")).items():
                if as_map(setting).get("mode") not in (None, "UNSET", "STRICT"):
                    yield Finding("mtls-strict", ref(policy),
                                  f"portLevelMtls {port} is {as_map(setting).get('mode')}",
                                  f"on that port {WHY_PLAINTEXT}")
    for rule in inv.of_kind("DestinationRule"):
        spec = as_map(rule.get("spec"))
        policies_at = [("trafficPolicy", as_map(spec.get("trafficPolicy")))]
        policies_at += [(f"subsets[{as_map(s).get('name')}].trafficPolicy",
                         as_map(as_map(s).get("trafficPolicy")))
                        for s in as_list(spec.get("subsets"))]
        for where, policy in policies_at:
            mode = as_map(policy.get("tls")).get("mode")
            if mode in ("DISABLE", "SIMPLE"):
                yield Finding("mtls-strict", ref(rule), f"{where}.tls.mode is {mode}",
                              "clients then skip Istio mutual TLS to this host: against STRICT "
                              "servers every call fails, against PERMISSIVE ones no identity")


def _rule_problems(rule: dict[str, Any]) -> Iterator[str]:
    sources = [as_map(as_map(item).get("source")) for item in as_list(rule.get("from"))]
    if not sources:
        yield "has no `from`: any caller, authenticated or not, matches"
        return
    for source in sources:
        principals = [str(p) for p in as_list(source.get("principals"))]
        if not principals:
            keys = ", ".join(sorted(source)) or "nothing"
            yield f"has a source without principals (it names {keys})"
        elif any("*" in p for p in principals):
            yield f"allows wildcard principals {[p for p in principals if '*' in p]}"


def check_authz_not_allow_all(inv: Inventory) -> Iterator[Finding]:
    policies = [p for p in inv.of_kind("AuthorizationPolicy")
                if as_map(p.get("spec")).get("action", "ALLOW") == "ALLOW"]
    why = "the model servers then answer callers that are not the named clients"
    for policy in policies:
        for i, rule in enumerate(as_list(as_map(policy.get("spec")).get("rules"))):
            for problem in _rule_problems(as_map(rule)):
                yield Finding("authz-not-allow-all", ref(policy), f"rules[{i}] {problem}", why)
    for workload in inv.workloads(REPLICATED_KINDS):
        if meshed(inv, workload) is not False and not any(_applies(p, workload)
                                                          for p in policies):
            yield Finding("authz-not-allow-all", ref(workload),
                          "no ALLOW AuthorizationPolicy applies to its pods",
                          f"Istio allows every request when no ALLOW policy exists: {why}")


def check_istio_v1(inv: Inventory) -> Iterator[Finding]:
    for obj in inv.objects:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        if group in ISTIO_GROUPS and version != "v1" and obj.get("kind") not in ISTIO_NOT_IN_V1:
            yield Finding("istio-v1", ref(obj), f"apiVersion is {group}/{version}, not {group}/v1",
                          "v1 is served since Istio 1.22 and stored since 1.27/1.28; the "
                          "alpha and beta versions are on their way out")


def check_route_policy(inv: Inventory) -> Iterator[Finding]:
    for service in inv.of_kind("VirtualService"):
        for i, route in enumerate(as_list(as_map(service.get("spec")).get("http"))):
            route = as_map(route)
            name = f"http[{route.get('name', i)}]"
            retries = as_map(route.get("retries"))
            if "timeout" not in route or "attempts" not in retries:
                yield Finding("route-policy", ref(service),
                              f"{name} leaves {'timeout' if 'timeout' not in route else 'retries'}"
                              " to the mesh default",
                              "Istio then retries UNAVAILABLE twice by default and waits without "
                              "a deadline: failures are hidden and calls can hang")
            retry_on = [s.strip() for s in str(retries.get("retryOn", "")).split(",")]
            risky = [s for s in retry_on if s in RISKY_RETRY_ON]
            if risky and retries.get("attempts", 0):
                yield Finding("route-policy", ref(service), f"{name} retries on {', '.join(risky)}",
                              "an overloaded TF Serving answers UNAVAILABLE (batch queue full): "
                              "retrying it multiplies the load on a server that is drowning")
            if "fault" in route:
                yield Finding("route-policy", ref(service), f"{name} carries a fault",
                              "a fault injects errors into real traffic and disables the "
                              "route's retries and timeout; faults belong to chaos runs only")
