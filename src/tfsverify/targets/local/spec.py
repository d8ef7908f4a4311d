"""What the local target runs, as read from the rendered manifests of reference-deploy/.

`manifests.py` builds these frozen objects from the Kubernetes and Istio objects of an
overlay; the supervisor and the scheduler consume them. Fields the local target does not
model are not here: `DeploymentSpec.ignored` names them so `tfsverify up` can list them.
Quantities are normalised: cpu in millicores, memory in bytes, durations in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class Resources:
    cpu_m: int = 0  # millicores
    memory_b: int = 0  # bytes
    gpu: int = 0  # nvidia.com/gpu


@dataclass(frozen=True)
class Probe:
    """A Kubernetes probe; exactly one of grpc_port / http_get / tcp_port is set."""

    grpc_port: int | None = None
    grpc_service: str = ""
    http_path: str | None = None
    http_port: int | None = None
    tcp_port: int | None = None
    initial_delay_s: float = 0.0
    period_s: float = 10.0
    timeout_s: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class Container:
    name: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: dict[str, str]
    ports: dict[str, int]  # port name -> containerPort
    requests: Resources
    limits: Resources
    startup: Probe | None
    liveness: Probe | None
    readiness: Probe | None
    mounts: dict[str, str]  # mountPath -> volume name
    pre_stop_sleep_s: float = 0.0


@dataclass(frozen=True)
class Toleration:
    key: str | None
    operator: str  # Equal | Exists
    value: str | None
    effect: str | None  # NoSchedule | PreferNoSchedule | NoExecute | None (= all)


@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None
    effect: str


@dataclass(frozen=True)
class NodeSpec:
    name: str
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    allocatable: Resources
    max_pods: int = 110


@dataclass(frozen=True)
class TopologySpread:
    max_skew: int
    topology_key: str
    when_unsatisfiable: str  # DoNotSchedule | ScheduleAnyway


@dataclass(frozen=True)
class Volume:
    """A volume as the local target materialises it: a host directory, or files to write."""

    name: str
    host_path: Path | None = None  # hostPath (relative paths resolved against the overlay)
    files: dict[str, str] = field(default_factory=dict)  # configMap data: file name -> text
    empty_dir: bool = False


@dataclass(frozen=True)
class PodTemplate:
    labels: dict[str, str]
    annotations: dict[str, str]
    service_account: str
    containers: tuple[Container, ...]
    volumes: tuple[Volume, ...]
    node_selector: dict[str, str]
    tolerations: tuple[Toleration, ...]
    topology_spread: tuple[TopologySpread, ...]
    termination_grace_s: float = 30.0
    sidecar_injected: bool = True  # namespace istio-injection=enabled, not disabled per pod


@dataclass(frozen=True)
class DisruptionBudget:
    name: str
    selector: dict[str, str]
    min_available: int | str | None  # int or "NN%"
    max_unavailable: int | str | None
    unhealthy_pod_eviction_policy: str = "IfHealthyBudget"  # or AlwaysAllow


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str
    app_protocol: str | None


@dataclass(frozen=True)
class MeshPolicy:
    """The Istio objects that select this workload, in Istio's own field shapes."""

    mtls_mode: str  # STRICT | PERMISSIVE | DISABLE (UNSET resolves to PERMISSIVE)
    # [{"name", "action", "rules"}] from the AuthorizationPolicies that select the workload
    authorization: tuple[dict[str, Any], ...]
    fault: dict[str, Any] | None  # VirtualService http[].fault of the route to this service
    retries: dict[str, Any] | None  # VirtualService http[].retries (None = Istio's default policy)
    timeout_s: float | None  # VirtualService http[].timeout
    subsets: dict[str, dict[str, str]]  # DestinationRule subset name -> labels
    route_weights: dict[str, int]  # subset name (or "" when none) -> weight


@dataclass(frozen=True)
class DeploymentSpec:
    """One Deployment of the overlay with everything around it that the local target honours."""

    name: str
    namespace: str
    replicas: int
    selector: dict[str, str]
    template: PodTemplate
    service_name: str
    service_host: str  # <service>.<namespace>.svc.cluster.local
    service_ports: tuple[ServicePort, ...]
    budget: DisruptionBudget | None
    mesh: MeshPolicy
    ignored: tuple[str, ...]  # "Kind/name: field.path" of every field present but not modelled


@dataclass(frozen=True)
class ClusterSpec:
    """Everything the local target runs, from one rendered overlay."""

    overlay: Path
    nodes: tuple[NodeSpec, ...]
    deployments: tuple[DeploymentSpec, ...]
    ignored: tuple[str, ...]  # objects or fields outside any deployment that are not modelled
