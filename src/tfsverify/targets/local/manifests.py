"""Read the rendered ``local`` overlay of reference-deploy/ into a :class:`ClusterSpec`.

The overlay is rendered with ``kubectl kustomize`` (offline), so what the local target runs
is exactly what ``kubectl apply -k`` would deploy. Each Deployment is read together with the
objects that apply to its pods: the Service selecting them, their PodDisruptionBudget, the
ConfigMaps they mount and the Istio policies and routes for them. What the local target
models is in :mod:`tfsverify.targets.local.modelled`; every other field present, and every
object of a kind it does not model, is listed in ``ignored`` as ``Kind/name: field.path``.

Errors: no kubectl -> :class:`TargetError`; a kustomize failure, malformed YAML or a value
the local target cannot honour -> :class:`ManifestError`, one line,
``<Kind>/<name>: <field>: <what is wrong>``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tfsverify.errors import ManifestError, TargetError
from tfsverify.targets.local.fields import (
    Where,
    as_choice,
    as_int,
    as_list,
    as_map,
    as_str,
    as_str_map,
    parsed,
    selects,
)
from tfsverify.targets.local.istio import resolve_mesh
from tfsverify.targets.local.modelled import unmodelled
from tfsverify.targets.local.nodes import build_node
from tfsverify.targets.local.podtemplate import build_template
from tfsverify.targets.local.quantities import parse_int_or_percent
from tfsverify.targets.local.spec import (
    ClusterSpec,
    DeploymentSpec,
    DisruptionBudget,
    ServicePort,
)

KUSTOMIZE_TIMEOUT_S = 120.0
EVICTION_POLICIES = ("IfHealthyBudget", "AlwaysAllow")
# kind -> (API group, served versions) of the kinds the local target models
API_VERSIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Node": ("", ("v1",)),
    "Namespace": ("", ("v1",)),
    "ConfigMap": ("", ("v1",)),
    "Service": ("", ("v1",)),
    "Deployment": ("apps", ("v1",)),
    "PodDisruptionBudget": ("policy", ("v1",)),
    "PeerAuthentication": ("security.istio.io", ("v1", "v1beta1")),
    "AuthorizationPolicy": ("security.istio.io", ("v1", "v1beta1")),
    "VirtualService": ("networking.istio.io", ("v1", "v1beta1", "v1alpha3")),
    "DestinationRule": ("networking.istio.io", ("v1", "v1beta1", "v1alpha3")),
}


def read_cluster(overlay: Path) -> ClusterSpec:
    """Render ``overlay`` with kubectl kustomize and read it (:func:`build_cluster`)."""
    return build_cluster(render_overlay(overlay), overlay)


def render_overlay(overlay: Path) -> list[dict[str, Any]]:
    """The objects of ``kubectl kustomize <overlay>``, in the order kustomize emits them."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise TargetError("kubectl not found on PATH: the local target renders the "
                          "reference deployment with `kubectl kustomize`; install kubectl")
    if not overlay.is_dir():
        raise ManifestError(f"{overlay}: not a kustomize overlay directory")
    try:
        done = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True,
                              text=True, timeout=KUSTOMIZE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TargetError(f"kubectl kustomize {overlay}: no answer after "
                          f"{KUSTOMIZE_TIMEOUT_S:.0f} s") from exc
    except OSError as exc:
        raise TargetError(f"kubectl kustomize {overlay}: {exc}") from exc
    if done.returncode != 0:
        reason = first_error_line(done.stderr) or f"exit status {done.returncode}"
        raise ManifestError(f"{overlay}: kubectl kustomize failed: {reason}")
    return load_documents(done.stdout, f"{overlay} (as rendered by kubectl kustomize)")


def first_error_line(stderr: str) -> str:
    """The reason in kubectl's stderr (the ``err="..."`` of a klog line when there is one)."""
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        start = line.find('err="')
        if start >= 0 and line.endswith('"'):
            return line[start + 5 : -1].replace('\\"', '"')
        return line.removeprefix("error: ")
    return ""


def load_documents(text: str, source: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of ``text``; ``source`` names it in errors."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ManifestError(f"{source}: {where}malformed YAML: {problem}") from exc
    objects = []
    for number, document in enumerate(documents, start=1):
        if document is None:
            continue
        if not isinstance(document, dict) or not document.get("kind"):
            raise ManifestError(f"{source}: document {number}: not a Kubernetes object")
        objects.append(document)
    return objects


def build_cluster(objects: list[dict[str, Any]], overlay: Path) -> ClusterSpec:
    """The :class:`ClusterSpec` of already rendered ``objects`` (hostPaths resolved against
    ``overlay``)."""
    overlay = overlay.resolve()
    modelled: list[dict[str, Any]] = []
    ignored: list[str] = []
    for obj in objects:
        if _is_modelled(obj):
            modelled.append(obj)
        else:
            ignored.append(f"{Where.of(obj).ref}: not modelled by the local target")
    nodes = [obj for obj in modelled if obj["kind"] == "Node"]
    node_specs = tuple(build_node(obj) for obj in nodes)
    names = [node.name for node in node_specs]
    if len(set(names)) != len(names):
        raise ManifestError(f"Node/{_duplicate(names)}: metadata.name: defined twice")
    namespaces = {Where.of(obj).name: obj for obj in modelled if obj["kind"] == "Namespace"}
    used: dict[int, dict[str, Any]] = {id(obj): obj for obj in (*nodes, *namespaces.values())}
    deployments = []
    for obj in modelled:
        if obj["kind"] == "Deployment":
            spec, touched = _deployment(obj, modelled, namespaces, overlay)
            deployments.append(spec)
            used.update((id(other), other) for other in touched)
    for obj in (*nodes, *namespaces.values()):
        ignored += [Where.of(obj).note(path) for path in unmodelled(obj)]
    ignored += [f"{Where.of(obj).ref}: applies to no Deployment of the overlay"
                for obj in modelled if id(obj) not in used]
    return ClusterSpec(overlay=overlay, nodes=node_specs, deployments=tuple(deployments),
                       ignored=tuple(dict.fromkeys(ignored)))


def _is_modelled(obj: dict[str, Any]) -> bool:
    kind = str(obj.get("kind"))
    if kind not in API_VERSIONS:
        return False
    group, versions = API_VERSIONS[kind]
    api_version = str(obj.get("apiVersion", ""))
    found_group, _, version = api_version.rpartition("/")
    if found_group != group:
        return False
    if version not in versions:
        allowed = ", ".join(f"{group}/{v}" if group else v for v in versions)
        raise Where.of(obj).error("apiVersion", f"unknown value {api_version!r} "
                                                f"(allowed: {allowed})")
    if Where.of(obj).name == "?":
        raise ManifestError(f"{kind} without metadata.name")
    return True


def _deployment(
    obj: dict[str, Any],
    objects: list[dict[str, Any]],
    namespaces: dict[str, dict[str, Any]],
    overlay: Path,
) -> tuple[DeploymentSpec, list[dict[str, Any]]]:
    where = Where.of(obj)
    ns = where.namespace
    local = [other for other in objects if Where.of(other).namespace == ns]
    spec = as_map(where, "spec", obj.get("spec"))
    replicas = as_int(where, "spec.replicas", spec.get("replicas", 1))
    selector_raw = as_map(where, "spec.selector", spec.get("selector"))
    selector = as_str_map(where, "spec.selector.matchLabels", selector_raw.get("matchLabels"))
    template = as_map(where, "spec.template", spec.get("template"))
    namespace = namespaces.get(ns, {"kind": "Namespace", "metadata": {"name": ns}})
    ns_where = Where.of(namespace)
    ns_labels = as_str_map(ns_where, "metadata.labels",
                           as_map(ns_where, "metadata", namespace.get("metadata")).get("labels"))
    notes: list[str] = []
    configmaps = [other for other in local if other["kind"] == "ConfigMap"]
    pod, mounted = build_template(where, template, ns_labels, configmaps, overlay, notes)
    if not selector or not selects(selector, pod.labels):
        raise where.error("spec.selector.matchLabels",
                          f"{selector} does not select the template labels {pod.labels}")
    service, extra = _service(where, local, pod.labels)
    budget_obj, budget = _budget(where, local, pod.labels)
    mesh, seen = resolve_mesh(objects, ns, pod.labels, Where.of(service).name)
    touched = [obj, service, *extra, *mounted, *seen.used, *([budget_obj] if budget_obj else [])]
    ignored = [where.note(path) for path in unmodelled(obj)] + notes
    for other in (service, *mounted, *seen.used, *([budget_obj] if budget_obj else [])):
        ignored += [Where.of(other).note(path) for path in unmodelled(other)]
    ignored += seen.notes
    ignored += [Where.of(other).note("spec.selector", f"another Service for {where.ref}: "
                                                      f"{Where.of(service).ref} is used")
                for other in extra]
    service_name = Where.of(service).name
    deployment = DeploymentSpec(
        name=where.name, namespace=ns, replicas=replicas, selector=selector, template=pod,
        service_name=service_name, service_host=f"{service_name}.{ns}.svc.cluster.local",
        service_ports=_service_ports(service), budget=budget, mesh=mesh,
        ignored=tuple(dict.fromkeys(ignored)),
    )
    return deployment, touched


def _service(where: Where, local: list[dict[str, Any]],
             labels: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    matches = []
    for obj in local:
        if obj["kind"] != "Service":
            continue
        svc = Where.of(obj)
        selector = as_str_map(svc, "spec.selector",
                              as_map(svc, "spec", obj.get("spec")).get("selector"))
        if selector and selects(selector, labels):
            matches.append(obj)
    if not matches:
        raise where.error("spec.template.metadata.labels", "no Service selects these pods")
    return matches[0], matches[1:]


def _service_ports(obj: dict[str, Any]) -> tuple[ServicePort, ...]:
    where = Where.of(obj)
    ports = []
    spec = as_map(where, "spec", obj.get("spec"))
    for i, item in enumerate(as_list(where, "spec.ports", spec.get("ports"))):
        entry = as_map(where, f"spec.ports[{i}]", item)
        port = as_int(where, f"spec.ports[{i}].port", entry.get("port"), 1)
        target = entry.get("targetPort", port)
        if not isinstance(target, str):
            target = as_int(where, f"spec.ports[{i}].targetPort", target, 1)
        protocol = entry.get("appProtocol")
        ports.append(ServicePort(
            name=as_str(where, f"spec.ports[{i}].name", entry.get("name", "")),
            port=port,
            target_port=target,
            app_protocol=as_str(where, f"spec.ports[{i}].appProtocol", protocol)
            if protocol is not None else None,
        ))
    return tuple(ports)


def _budget(where: Where, local: list[dict[str, Any]],
            labels: dict[str, str]) -> tuple[dict[str, Any] | None, DisruptionBudget | None]:
    matches = []
    for obj in local:
        if obj["kind"] != "PodDisruptionBudget":
            continue
        pdb = Where.of(obj)
        spec = as_map(pdb, "spec", obj.get("spec"))
        if "selector" not in spec:
            continue  # a PodDisruptionBudget without a selector selects no pods
        selector = as_map(pdb, "spec.selector", spec.get("selector"))
        match = as_str_map(pdb, "spec.selector.matchLabels", selector.get("matchLabels"))
        if selects(match, labels):
            matches.append((obj, pdb, spec, match))
    if len(matches) > 1:
        names = ", ".join(pdb.name for _, pdb, _, _ in matches)
        raise where.error("spec.template.metadata.labels",
                          f"more than one PodDisruptionBudget selects these pods ({names}): "
                          "Kubernetes refuses every eviction of them")
    if not matches:
        return None, None
    obj, pdb, spec, match = matches[0]
    if "minAvailable" in spec and "maxUnavailable" in spec:
        raise pdb.error("spec", "minAvailable and maxUnavailable are both set")
    values = {
        key: parsed(pdb, f"spec.{key}", spec[key], parse_int_or_percent) if key in spec else None
        for key in ("minAvailable", "maxUnavailable")
    }
    policy = as_choice(pdb, "spec.unhealthyPodEvictionPolicy",
                       spec.get("unhealthyPodEvictionPolicy", "IfHealthyBudget"),
                       EVICTION_POLICIES)
    return obj, DisruptionBudget(
        name=pdb.name, selector=match, min_available=values["minAvailable"],
        max_unavailable=values["maxUnavailable"], unhealthy_pod_eviction_policy=policy,
    )


def _duplicate(names: list[str]) -> str:
    return next(name for name in names if names.count(name) > 1)
