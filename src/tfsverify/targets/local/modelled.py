"""Which fields of each kind the local target models, and a walk that lists the rest.

The table below is the single statement of what the local target honours. A path names a
field that is read, and with it its whole subtree; ``[]`` stands for any list item,
``[0]`` for the first one only, ``{a.b}`` for a key with dots in it. A trailing ``.{}``
models none of a mapping's fields but lists them one by one (``emptyDir: {}`` is then
honoured whole, ``emptyDir.medium`` listed; ``trafficPolicy.outlierDetection`` is listed
rather than all of ``trafficPolicy``). :func:`unmodelled` walks an object and returns every field
present that no path covers, at the highest level that is not modelled
(``spec.template.spec.securityContext``, not each of its leaves).

``apiVersion``, ``kind``, ``metadata.name``/``namespace``/``labels``/``annotations`` are
bookkeeping on every kind and never listed. Fields that are modelled only for some values
(a preStop ``exec`` that is not a sleep, a CUSTOM AuthorizationPolicy) are noted by the
readers themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tfsverify.targets.local.spec import GPU_RESOURCE

_LEAF = "\0leaf"
Trie = dict[str, Any]

_COMMON = ("apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels",
           "metadata.annotations")
_RESOURCES = ("cpu", "memory", GPU_RESOURCE)
_PROBE = ("grpc.port", "grpc.service", "httpGet.path", "httpGet.port", "tcpSocket.port",
          "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold",
          "failureThreshold")
_CONTAINER = (
    "name", "command", "args", "env[].name", "env[].value", "ports[].name",
    "ports[].containerPort", "volumeMounts[].name", "volumeMounts[].mountPath",
    "lifecycle.preStop.sleep.seconds", "lifecycle.preStop.exec.command", "securityContext.{}",
    *(f"resources.{kind}.{{{name}}}" for kind in ("requests", "limits") for name in _RESOURCES),
    *(f"{probe}.{field}" for probe in ("startupProbe", "livenessProbe", "readinessProbe")
      for field in _PROBE),
)
_POD = (
    "serviceAccountName", "restartPolicy", "terminationGracePeriodSeconds", "nodeSelector",
    "tolerations[].key", "tolerations[].operator", "tolerations[].value", "tolerations[].effect",
    "topologySpreadConstraints[].maxSkew", "topologySpreadConstraints[].topologyKey",
    "topologySpreadConstraints[].whenUnsatisfiable",
    "topologySpreadConstraints[].labelSelector.matchLabels",
    "volumes[].name", "volumes[].configMap.name", "volumes[].configMap.optional",
    "volumes[].configMap.items[].key", "volumes[].configMap.items[].path",
    "volumes[].hostPath.path", "volumes[].emptyDir.{}",
    *(f"containers[].{path}" for path in _CONTAINER),
)
_ISTIO_SELECTOR = "spec.selector.matchLabels"

MODELLED: dict[str, tuple[str, ...]] = {
    "Node": ("metadata.name", "spec.taints[].key", "spec.taints[].value", "spec.taints[].effect",
             *(f"status.{part}.{{{name}}}" for part in ("allocatable", "capacity")
               for name in (*_RESOURCES, "pods"))),
    "Namespace": (),
    "ConfigMap": ("data",),
    "Deployment": ("spec.replicas", "spec.selector.matchLabels", "spec.template.metadata.labels",
                   "spec.template.metadata.annotations",
                   *(f"spec.template.spec.{path}" for path in _POD)),
    "Service": ("spec.selector", "spec.ports[].name", "spec.ports[].port",
                "spec.ports[].targetPort", "spec.ports[].appProtocol"),
    "PodDisruptionBudget": ("spec.selector.matchLabels", "spec.minAvailable",
                            "spec.maxUnavailable", "spec.unhealthyPodEvictionPolicy"),
    "PeerAuthentication": (_ISTIO_SELECTOR, "spec.mtls.mode"),
    "AuthorizationPolicy": (_ISTIO_SELECTOR, "spec.action", "spec.rules[].from",
                            "spec.rules[].to"),
    "VirtualService": ("spec.hosts", "spec.gateways", "spec.http[0].name", "spec.http[0].fault",
                       "spec.http[0].retries", "spec.http[0].timeout",
                       "spec.http[0].route[].destination.host",
                       "spec.http[0].route[].destination.subset", "spec.http[0].route[].weight"),
    "DestinationRule": ("spec.host", "spec.subsets[].name", "spec.subsets[].labels",
                        "spec.trafficPolicy.{}", "spec.subsets[].trafficPolicy.{}"),
}

_SEGMENT = re.compile(r"\{([^}]*)\}|([^.\[{]+)|(\[\d*\])")


def _segments(path: str) -> list[str]:
    """``a.b[].{nvidia.com/gpu}`` -> ``["a", "b", "[]", "nvidia.com/gpu"]``."""
    return [braced or plain or index for braced, plain, index in _SEGMENT.findall(path)]


def _trie(paths: tuple[str, ...]) -> Trie:
    root: Trie = {}
    for path in (*_COMMON, *paths):
        node = root
        for segment in _segments(path):
            node = node.setdefault(segment, {})
        node[_LEAF] = True
    return root


_TRIES = {kind: _trie(paths) for kind, paths in MODELLED.items()}


def unmodelled(obj: dict[str, Any]) -> list[str]:
    """Dotted paths of the fields of ``obj`` that the local target does not model."""
    kind = str(obj.get("kind", ""))
    trie = _TRIES.get(kind, _trie(()))
    return [_render(path) for path in _walk(obj, trie, ())]


def _walk(value: Any, node: Trie, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if node.get(_LEAF):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            child = node.get(str(key))
            if child is None:
                yield (*path, str(key))
            else:
                yield from _walk(item, child, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            child = node.get(f"[{index}]", node.get("[]"))
            if child is None:
                yield (*path, f"[{index}]")
            else:
                yield from _walk(item, child, (*path, f"[{index}]"))


def _render(path: tuple[str, ...]) -> str:
    text = ""
    for segment in path:
        text += segment if segment.startswith("[") or not text else f".{segment}"
    return text
