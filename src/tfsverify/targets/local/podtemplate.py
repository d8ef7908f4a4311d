"""A Deployment's pod template: labels, containers, volumes, placement, sidecar injection.

- Volumes: ``configMap`` becomes the files of the ConfigMap's ``data`` (``items`` honoured;
  the name may carry kustomize's hash suffix), ``hostPath`` a host directory (a relative path
  is resolved against the overlay directory), ``emptyDir`` a fresh directory. Other volume
  sources are listed as ignored and become empty volumes.
- Placement: ``nodeSelector``, ``tolerations``, ``topologySpreadConstraints`` (the local
  target spreads this Deployment's own pods; a ``labelSelector`` that selects other pods is
  listed as ignored).
- Sidecar injection follows Istio's default policy: the namespace label
  ``istio-injection=enabled`` (or ``istio.io/rev``) injects, a pod label or annotation
  ``sidecar.istio.io/inject: "false"`` opts out, ``"true"`` opts in, and a namespace labelled
  ``istio-injection=disabled`` never injects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfsverify.targets.local.containers import build_container
from tfsverify.targets.local.fields import (
    Where,
    as_choice,
    as_int,
    as_list,
    as_map,
    as_str,
    as_str_map,
    selects,
)
from tfsverify.targets.local.spec import PodTemplate, Toleration, TopologySpread, Volume

TOLERATION_OPERATORS = ("Equal", "Exists")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")
INJECT = "sidecar.istio.io/inject"
_T = "spec.template"
_S = "spec.template.spec"


def build_template(
    where: Where,
    template: dict[str, Any],
    namespace_labels: dict[str, str],
    configmaps: list[dict[str, Any]],
    overlay: Path,
    notes: list[str],
) -> tuple[PodTemplate, list[dict[str, Any]]]:
    """The pod template and the ConfigMaps its volumes read; ``notes`` gets ignored fields
    that the walk over unmodelled fields cannot see (a preStop exec that is not a sleep)."""
    metadata = as_map(where, f"{_T}.metadata", template.get("metadata"))
    labels = as_str_map(where, f"{_T}.metadata.labels", metadata.get("labels"))
    annotations = as_str_map(where, f"{_T}.metadata.annotations", metadata.get("annotations"))
    spec = as_map(where, _S, template.get("spec"))
    if "restartPolicy" in spec:
        as_choice(where, f"{_S}.restartPolicy", spec["restartPolicy"], ("Always",))
    volumes, used = _volumes(where, spec.get("volumes"), configmaps, overlay)
    names = {volume.name for volume in volumes}
    raw_containers = as_list(where, f"{_S}.containers", spec.get("containers"))
    if not raw_containers:
        raise where.error(f"{_S}.containers", "no containers")
    containers = tuple(
        build_container(where, f"{_S}.containers[{i}]", raw, names, notes)
        for i, raw in enumerate(raw_containers)
    )
    grace_s = as_int(where, f"{_S}.terminationGracePeriodSeconds",
                     spec.get("terminationGracePeriodSeconds", 30))
    pod = PodTemplate(
        labels=labels,
        annotations=annotations,
        service_account=as_str(where, f"{_S}.serviceAccountName",
                               spec.get("serviceAccountName", "default")),
        containers=containers,
        volumes=volumes,
        node_selector=as_str_map(where, f"{_S}.nodeSelector", spec.get("nodeSelector")),
        tolerations=_tolerations(where, spec.get("tolerations")),
        topology_spread=_spread(where, spec.get("topologySpreadConstraints"), labels, notes),
        termination_grace_s=float(grace_s),
        sidecar_injected=sidecar_injected(namespace_labels, labels, annotations),
    )
    return pod, used


def sidecar_injected(
    namespace_labels: dict[str, str], labels: dict[str, str], annotations: dict[str, str]
) -> bool:
    """Whether Istio's injector (default policy) adds a sidecar to these pods."""
    if namespace_labels.get("istio-injection") == "disabled":
        return False
    pod_choice = labels.get(INJECT, annotations.get(INJECT))
    if pod_choice == "false":
        return False
    if pod_choice == "true":
        return True
    enabled = namespace_labels.get("istio-injection") == "enabled"
    return enabled or "istio.io/rev" in namespace_labels


def _volumes(
    where: Where, raw: Any, configmaps: list[dict[str, Any]], overlay: Path
) -> tuple[tuple[Volume, ...], list[dict[str, Any]]]:
    volumes: list[Volume] = []
    used: list[dict[str, Any]] = []
    for i, item in enumerate(as_list(where, f"{_S}.volumes", raw)):
        path = f"{_S}.volumes[{i}]"
        entry = as_map(where, path, item)
        name = as_str(where, f"{path}.name", entry.get("name"))
        if any(volume.name == name for volume in volumes):
            raise where.error(f"{path}.name", f"volume name {name!r} is used twice")
        if "configMap" in entry:
            files, configmap = _configmap_files(where, f"{path}.configMap", entry["configMap"],
                                                configmaps)
            used += [configmap] if configmap is not None else []
            volumes.append(Volume(name=name, files=files))
        elif "hostPath" in entry:
            host = as_map(where, f"{path}.hostPath", entry["hostPath"])
            text = as_str(where, f"{path}.hostPath.path", host.get("path"))
            volumes.append(Volume(name=name, host_path=(overlay / text).resolve()))
        else:
            volumes.append(Volume(name=name, empty_dir="emptyDir" in entry))
    return tuple(volumes), used


def _configmap_files(
    where: Where, path: str, raw: Any, configmaps: list[dict[str, Any]]
) -> tuple[dict[str, str], dict[str, Any] | None]:
    source = as_map(where, path, raw)
    name = as_str(where, f"{path}.name", source.get("name"))
    configmap = find_configmap(name, configmaps)
    if configmap is None:
        if source.get("optional") is True:
            return {}, None
        raise where.error(f"{path}.name", f"no ConfigMap {name!r} in namespace {where.namespace}")
    data = as_str_map(Where.of(configmap), "data", configmap.get("data"))
    items = as_list(where, f"{path}.items", source.get("items"))
    if not items:
        return data, configmap
    files: dict[str, str] = {}
    for j, item in enumerate(items):
        entry = as_map(where, f"{path}.items[{j}]", item)
        key = as_str(where, f"{path}.items[{j}].key", entry.get("key"))
        if key not in data:
            raise where.error(f"{path}.items[{j}].key", f"ConfigMap {name!r} has no key {key!r}")
        files[as_str(where, f"{path}.items[{j}].path", entry.get("path"))] = data[key]
    return files, configmap


def find_configmap(name: str, configmaps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ConfigMap called ``name``, or the only one kustomize named ``name-<10-char hash>``."""
    names = {Where.of(cm).name: cm for cm in configmaps}
    if name in names:
        return names[name]
    hashed = [cm for key, cm in names.items()
              if key.startswith(f"{name}-") and len(key) == len(name) + 11]
    return hashed[0] if len(hashed) == 1 else None


def _tolerations(where: Where, raw: Any) -> tuple[Toleration, ...]:
    tolerations: list[Toleration] = []
    for i, item in enumerate(as_list(where, f"{_S}.tolerations", raw)):
        path = f"{_S}.tolerations[{i}]"
        entry = as_map(where, path, item)
        operator = as_choice(where, f"{path}.operator", entry.get("operator", "Equal"),
                             TOLERATION_OPERATORS)
        effect = entry.get("effect") or None
        if effect is not None:
            as_choice(where, f"{path}.effect", effect, EFFECTS)
        key = as_str(where, f"{path}.key", entry["key"]) if entry.get("key") else None
        value = as_str(where, f"{path}.value", entry["value"]) if entry.get("value") else None
        if operator == "Exists" and value is not None:
            raise where.error(f"{path}.value", "must be empty when operator is Exists")
        if key is None and operator != "Exists":
            raise where.error(f"{path}.operator", "must be Exists when key is empty")
        tolerations.append(Toleration(key=key, operator=operator, value=value, effect=effect))
    return tuple(tolerations)


def _spread(
    where: Where, raw: Any, labels: dict[str, str], notes: list[str]
) -> tuple[TopologySpread, ...]:
    constraints: list[TopologySpread] = []
    for i, item in enumerate(as_list(where, f"{_S}.topologySpreadConstraints", raw)):
        path = f"{_S}.topologySpreadConstraints[{i}]"
        entry = as_map(where, path, item)
        selector = as_map(where, f"{path}.labelSelector", entry.get("labelSelector"))
        match = as_str_map(where, f"{path}.labelSelector.matchLabels", selector.get("matchLabels"))
        if not match or not selects(match, labels):
            notes.append(where.note(f"{path}.labelSelector", "does not select this Deployment's "
                                    "pods, which are what the local target spreads"))
        constraints.append(TopologySpread(
            max_skew=as_int(where, f"{path}.maxSkew", entry.get("maxSkew"), 1),
            topology_key=as_str(where, f"{path}.topologyKey", entry.get("topologyKey")),
            when_unsatisfiable=as_choice(where, f"{path}.whenUnsatisfiable",
                                         entry.get("whenUnsatisfiable"), WHEN_UNSATISFIABLE),
        ))
    return tuple(constraints)
