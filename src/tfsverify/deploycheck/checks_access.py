"""Access checks: the chaos runner's RBAC is least privilege and confined to namespaces
that opted in to faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tfsverify.deploycheck.findings import Finding, ref
from tfsverify.deploycheck.inventory import (
    REPLICATED_KINDS,
    Inventory,
    as_list,
    as_map,
    name_of,
    namespace_of,
)

OPT_IN_LABEL = "tfsverify.io/chaos"
OPT_IN_VALUE = "allowed"
MUTATING = ("create", "update", "patch", "delete", "deletecollection")
ESCALATING = ("escalate", "bind", "impersonate")
# namespaced resources that the experiments fault
FAULT_RESOURCES = ("pods", "pods/eviction", "pods/exec", "deployments", "virtualservices")


def _rules(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [as_map(rule) for rule in as_list(role.get("rules"))]


def _strings(rule: dict[str, Any], key: str) -> list[str]:
    return [str(item) for item in as_list(rule.get(key))]


def _faults(rule: dict[str, Any]) -> bool:
    return (any(v in MUTATING for v in _strings(rule, "verbs"))
            and any(r in FAULT_RESOURCES for r in _strings(rule, "resources")))


def check_rbac_least_privilege(inv: Inventory) -> Iterator[Finding]:
    bound_cluster_wide = {str(as_map(b.get("roleRef")).get("name"))
                          for b in inv.of_kind("ClusterRoleBinding")}
    for role in inv.of_kind("Role", "ClusterRole"):
        for i, rule in enumerate(_rules(role)):
            wild = [key for key in ("apiGroups", "resources", "verbs")
                    if "*" in _strings(rule, key)]
            if wild:
                yield Finding("rbac-least-privilege", ref(role),
                              f"rules[{i}] grants '*' in {', '.join(wild)}",
                              "a wildcard grants every present and future permission; the "
                              "chaos runner must hold exactly the verbs its experiments use")
            escalating = [v for v in _strings(rule, "verbs") if v in ESCALATING]
            if escalating:
                yield Finding("rbac-least-privilege", ref(role),
                              f"rules[{i}] grants {', '.join(escalating)}",
                              "these verbs let the holder grant itself more than it was given")
            if (role.get("kind") == "ClusterRole" and name_of(role) in bound_cluster_wide
                    and _faults(rule)):
                yield Finding("rbac-least-privilege", ref(role),
                              f"rules[{i}] grants {', '.join(_strings(rule, 'verbs'))} on "
                              f"{', '.join(_strings(rule, 'resources'))} in every namespace",
                              "faults must stay inside the namespace that opted in; grant them "
                              "with a Role there")


def _opted_in(inv: Inventory, namespace: str) -> bool | None:
    labels = inv.namespace_labels(namespace)
    return None if labels is None else labels.get(OPT_IN_LABEL) == OPT_IN_VALUE


def check_chaos_opt_in(inv: Inventory) -> Iterator[Finding]:
    label = f"{OPT_IN_LABEL}={OPT_IN_VALUE}"
    serving = {namespace_of(w) for w in inv.workloads(REPLICATED_KINDS)}
    for namespace in sorted(serving):
        if _opted_in(inv, namespace) is False:
            yield Finding("chaos-opt-in", f"Namespace/{namespace}",
                          f"holds the serving workloads but is not labelled {label}",
                          "tfsverify refuses to fault a namespace without the label: the "
                          "nightly resilience gate would test nothing")
    for role in inv.of_kind("Role"):
        if any(_faults(rule) for rule in _rules(role)) and _opted_in(
                inv, namespace_of(role)) is False:
            yield Finding("chaos-opt-in", ref(role),
                          f"grants fault verbs in namespace {namespace_of(role)}, which is not "
                          f"labelled {label}",
                          "faults are allowed only where the namespace owner opted in")
