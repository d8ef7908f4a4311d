"""The Istio objects around one workload, resolved the way istiod resolves them.

- PeerAuthentication: a workload policy (selector matches, same namespace) beats a namespace
  policy (no selector) which beats a mesh policy (no selector, root namespace
  ``istio-system``); ``UNSET`` or no ``mtls`` defers to the next level; the default is
  PERMISSIVE. ``portLevelMtls`` is not modelled.
- AuthorizationPolicy: those in the workload's namespace or the root namespace whose selector
  matches (or that have none) are kept as ``{"name", "action", "rules"}`` with each rule's
  ``from``/``to`` verbatim. ``when`` conditions are dropped from the rules and listed as
  ignored; CUSTOM and AUDIT policies are listed as ignored and not applied.
- VirtualService (hosts naming the Service; not bound only to gateways): the first ``http``
  route's ``fault``, ``retries``, ``timeout`` and route weights per subset.
- DestinationRule (``host`` naming the Service): subsets. Traffic policies are not modelled.

Where several objects compete (two VirtualServices for one host), the first in the overlay's
order is used and the others are listed as ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tfsverify.targets.local.fields import (
    Where,
    as_choice,
    as_int,
    as_list,
    as_map,
    as_str,
    as_str_map,
    as_strs,
    parsed,
    selects,
)
from tfsverify.targets.local.quantities import parse_duration_s
from tfsverify.targets.local.spec import MeshPolicy

ROOT_NAMESPACE = "istio-system"
MTLS_MODES = ("STRICT", "PERMISSIVE", "DISABLE", "UNSET")
ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")
GRPC_STATUSES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
)


@dataclass
class Mesh:
    """What the resolution read: the objects it used and the notes for ``ignored``."""

    used: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def resolve_mesh(
    objects: list[dict[str, Any]], namespace: str, labels: dict[str, str], service: str
) -> tuple[MeshPolicy, Mesh]:
    """Everything Istio applies to pods labelled ``labels`` behind Service ``service``."""
    of_kind = {kind: [obj for obj in objects if obj.get("kind") == kind]
               for kind in ("PeerAuthentication", "AuthorizationPolicy", "VirtualService",
                            "DestinationRule")}
    mesh = Mesh()
    mtls = _mtls(mesh, of_kind["PeerAuthentication"], namespace, labels)
    authorization = _authorization(mesh, of_kind["AuthorizationPolicy"], namespace, labels)
    subsets = _subsets(mesh, of_kind["DestinationRule"], namespace, service)
    fault, retries, timeout_s, weights = _route(mesh, of_kind["VirtualService"], namespace,
                                                service)
    policy = MeshPolicy(mtls_mode=mtls, authorization=authorization, fault=fault,
                        retries=retries, timeout_s=timeout_s, subsets=subsets,
                        route_weights=weights)
    return policy, mesh


def _selector(where: Where, obj: dict[str, Any]) -> dict[str, str] | None:
    spec = as_map(where, "spec", obj.get("spec"))
    if "selector" not in spec:
        return None
    selector = as_map(where, "spec.selector", spec["selector"])
    return as_str_map(where, "spec.selector.matchLabels", selector.get("matchLabels"))


def _mtls(mesh: Mesh, policies: list[dict[str, Any]], namespace: str,
          labels: dict[str, str]) -> str:
    levels: list[list[tuple[Where, dict[str, Any]]]] = [[], [], []]
    for obj in policies:
        where = Where.of(obj)
        selector = _selector(where, obj)
        if where.namespace == namespace and selector is not None and selects(selector, labels):
            levels[0].append((where, obj))
        elif where.namespace == namespace and selector is None:
            levels[1].append((where, obj))
        elif where.namespace == ROOT_NAMESPACE and selector is None:
            levels[2].append((where, obj))
    for level in levels:
        for where, _ in level[1:]:
            mesh.notes.append(where.note("spec", f"another PeerAuthentication at this level, "
                                                 f"{level[0][0].ref}, is used"))
    for level in levels:
        if not level:
            continue
        where, obj = level[0]
        mesh.used.append(obj)
        mtls = as_map(where, "spec.mtls", as_map(where, "spec", obj.get("spec")).get("mtls"))
        mode = as_choice(where, "spec.mtls.mode", mtls.get("mode", "UNSET"), MTLS_MODES)
        if mode != "UNSET":
            return mode
    return "PERMISSIVE"


def _authorization(mesh: Mesh, policies: list[dict[str, Any]], namespace: str,
                   labels: dict[str, str]) -> tuple[dict[str, Any], ...]:
    kept: list[dict[str, Any]] = []
    for obj in policies:
        where = Where.of(obj)
        selector = _selector(where, obj)
        if where.namespace not in (namespace, ROOT_NAMESPACE) or (
            selector is not None and not selects(selector, labels)
        ):
            continue
        mesh.used.append(obj)
        spec = as_map(where, "spec", obj.get("spec"))
        action = as_choice(where, "spec.action", spec.get("action", "ALLOW"), ACTIONS)
        if action in ("AUDIT", "CUSTOM"):
            mesh.notes.append(where.note("spec.action", f"{action} policies are not applied"))
            continue
        rules = []
        for i, rule in enumerate(as_list(where, "spec.rules", spec.get("rules"))):
            rule = as_map(where, f"spec.rules[{i}]", rule)
            rules.append({key: rule[key] for key in ("from", "to") if key in rule})
        kept.append({"name": where.name, "action": action, "rules": rules})
    return tuple(kept)


def host_names(service: str, namespace: str) -> tuple[str, ...]:
    """The names by which an Istio object in ``namespace`` can name a Service."""
    return (f"{service}.{namespace}.svc.cluster.local", f"{service}.{namespace}.svc",
            f"{service}.{namespace}")


def _names_service(host: str, where: Where, service: str, namespace: str) -> bool:
    local = host == service and (where.namespace or "default") == namespace
    return local or host in host_names(service, namespace)


def _first(mesh: Mesh, matches: list[tuple[Where, dict[str, Any], dict[str, Any]]],
           what: str) -> tuple[Where, dict[str, Any]] | None:
    """The first of competing ``(where, object, spec)``; the others are noted as ignored."""
    for where, _, _ in matches[1:]:
        mesh.notes.append(where.note("spec", f"{matches[0][0].ref} already {what}"))
    if not matches:
        return None
    where, obj, spec = matches[0]
    mesh.used.append(obj)
    return where, spec


def _subsets(mesh: Mesh, rules: list[dict[str, Any]], namespace: str,
             service: str) -> dict[str, dict[str, str]]:
    matches = []
    for obj in rules:
        where = Where.of(obj)
        spec = as_map(where, "spec", obj.get("spec"))
        if _names_service(as_str(where, "spec.host", spec.get("host")), where, service,
                          namespace):
            matches.append((where, obj, spec))
    chosen = _first(mesh, matches, "sets the subsets of this host")
    if chosen is None:
        return {}
    where, spec = chosen
    subsets: dict[str, dict[str, str]] = {}
    for i, item in enumerate(as_list(where, "spec.subsets", spec.get("subsets"))):
        entry = as_map(where, f"spec.subsets[{i}]", item)
        name = as_str(where, f"spec.subsets[{i}].name", entry.get("name"))
        subsets[name] = as_str_map(where, f"spec.subsets[{i}].labels", entry.get("labels"))
    return subsets


def _route(mesh: Mesh, services: list[dict[str, Any]], namespace: str, service: str) -> tuple[
    dict[str, Any] | None, dict[str, Any] | None, float | None, dict[str, int]
]:
    matches = []
    for obj in services:
        where = Where.of(obj)
        spec = as_map(where, "spec", obj.get("spec"))
        hosts = as_strs(where, "spec.hosts", spec.get("hosts"))
        gateways = as_strs(where, "spec.gateways", spec.get("gateways"))
        if not any(_names_service(host, where, service, namespace) for host in hosts):
            continue
        if gateways and "mesh" not in gateways:
            mesh.notes.append(where.note("spec.gateways", "bound to gateways only"))
            continue
        matches.append((where, obj, spec))
    chosen = _first(mesh, matches, "routes this host")
    if chosen is None:
        return None, None, None, {"": 100}
    where, spec = chosen
    routes = as_list(where, "spec.http", spec.get("http"))
    if not routes:
        return None, None, None, {"": 100}
    route = as_map(where, "spec.http[0]", routes[0])
    fault = as_map(where, "spec.http[0].fault", route["fault"]) if "fault" in route else None
    if fault is not None:
        _check_fault(where, fault)
    retries = as_map(where, "spec.http[0].retries", route["retries"]) if "retries" in route \
        else None
    timeout_s = parsed(where, "spec.http[0].timeout", route["timeout"], parse_duration_s) \
        if "timeout" in route else None
    return fault, retries, timeout_s, _weights(mesh, where, route, service, namespace)


def _weights(mesh: Mesh, where: Where, route: dict[str, Any], service: str,
             namespace: str) -> dict[str, int]:
    destinations = as_list(where, "spec.http[0].route", route.get("route"))
    weights: dict[str, int] = {}
    for i, item in enumerate(destinations):
        path = f"spec.http[0].route[{i}]"
        entry = as_map(where, path, item)
        target = as_map(where, f"{path}.destination", entry.get("destination"))
        host = as_str(where, f"{path}.destination.host", target.get("host"))
        if not _names_service(host, where, service, namespace):
            mesh.notes.append(where.note(f"{path}.destination.host", f"routes to {host}"))
            continue
        subset = as_str(where, f"{path}.destination.subset", target.get("subset", ""))
        default = 100 if len(destinations) == 1 else 0
        weight = as_int(where, f"{path}.weight", entry.get("weight", default))
        weights[subset] = weights.get(subset, 0) + weight
    return weights


def _check_fault(where: Where, fault: dict[str, Any]) -> None:
    abort = as_map(where, "spec.http[0].fault.abort", fault.get("abort"))
    if "grpcStatus" in abort:
        as_choice(where, "spec.http[0].fault.abort.grpcStatus", abort["grpcStatus"],
                  GRPC_STATUSES)
    delay = as_map(where, "spec.http[0].fault.delay", fault.get("delay"))
    if "fixedDelay" in delay:
        parsed(where, "spec.http[0].fault.delay.fixedDelay", delay["fixedDelay"],
               parse_duration_s)
