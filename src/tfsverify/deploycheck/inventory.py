"""The rendered objects of one overlay, indexed for the policy checks.

Read-only helpers only: which workloads there are, their pod templates and containers,
which objects select which pods, what a namespace is labelled. Values that are not of the
expected shape read as absent (the schema checks report malformed objects).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
REPLICATED_KINDS = ("Deployment", "StatefulSet")
TF_SERVING_BINARY = "tensorflow_model_server"


def as_map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def name_of(obj: dict[str, Any]) -> str:
    return str(as_map(obj.get("metadata")).get("name") or "?")


def namespace_of(obj: dict[str, Any]) -> str:
    return str(as_map(obj.get("metadata")).get("namespace") or "default")


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_map(as_map(obj.get("metadata")).get("labels")).items()}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (``matchLabels`` and ``matchExpressions``) selects ``labels``.

    An empty selector selects everything, as in a PodDisruptionBudget or NetworkPolicy."""
    for key, value in as_map(selector.get("matchLabels")).items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in as_list(selector.get("matchExpressions")):
        expression = as_map(expression)
        key, operator = str(expression.get("key")), expression.get("operator")
        values = [str(v) for v in as_list(expression.get("values"))]
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


@dataclass(frozen=True)
class Container:
    """A container (or init container) of a workload's pod template."""

    workload: dict[str, Any]
    pod: dict[str, Any]  # the pod spec
    spec: dict[str, Any]
    init: bool

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or "?")

    @property
    def where(self) -> str:
        field = "initContainers" if self.init else "containers"
        return f"{field}[{self.name}]"

    @property
    def argv(self) -> list[str]:
        return [str(a) for a in as_list(self.spec.get("command")) + as_list(self.spec.get("args"))]

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` in the container's command line, if given."""
        prefix = f"--{name}="
        found = [arg[len(prefix):] for arg in self.argv if arg.startswith(prefix)]
        return found[-1] if found else None

    @property
    def is_tf_serving(self) -> bool:
        image = str(self.spec.get("image") or "")
        return any(TF_SERVING_BINARY in arg for arg in self.argv) or (
            "tensorflow/serving" in image and not self.init)

    def ports(self) -> dict[str, int]:
        """Declared container ports: name (or the number as text) -> number."""
        found: dict[str, int] = {}
        for port in as_list(self.spec.get("ports")):
            number = as_map(port).get("containerPort")
            if isinstance(number, int):
                found[str(as_map(port).get("name") or number)] = number
        return found


class Inventory:
    """The objects of one rendered overlay."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = [obj for obj in objects if isinstance(obj, dict)]

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj.get("kind") in kinds]

    def in_namespace(self, namespace: str, *kinds: str) -> list[dict[str, Any]]:
        return [obj for obj in self.of_kind(*kinds) if namespace_of(obj) == namespace]

    def workloads(self, kinds: tuple[str, ...] = WORKLOAD_KINDS) -> list[dict[str, Any]]:
        return self.of_kind(*kinds)

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        """Labels of the Namespace object, or None when the overlay does not define it."""
        for obj in self.of_kind("Namespace"):
            if name_of(obj) == namespace:
                return labels_of(obj)
        return None

    def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        for obj in self.in_namespace(namespace, "ConfigMap"):
            if name_of(obj) == name:
                return obj
        return None

    def containers(self, include_init: bool = True) -> Iterator[Container]:
        for workload in self.workloads():
            pod = pod_spec(workload)
            for field, init in (("initContainers", True), ("containers", False)):
                if init and not include_init:
                    continue
                for spec in as_list(pod.get(field)):
                    if isinstance(spec, dict):
                        yield Container(workload, pod, spec, init)


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod template (``metadata`` + ``spec``) of a workload; a Pod is its own template."""
    spec = as_map(workload.get("spec"))
    if workload.get("kind") == "Pod":
        return workload
    if workload.get("kind") == "CronJob":
        spec = as_map(as_map(spec.get("jobTemplate")).get("spec"))
    return as_map(spec.get("template"))


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return as_map(pod_template(workload).get("spec"))


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return labels_of(pod_template(workload))


def pod_annotations(workload: dict[str, Any]) -> dict[str, str]:
    metadata = as_map(pod_template(workload).get("metadata"))
    return {str(k): str(v) for k, v in as_map(metadata.get("annotations")).items()}


def replicas(workload: dict[str, Any]) -> int:
    value = as_map(workload.get("spec")).get("replicas", 1)
    return value if isinstance(value, int) else 1
