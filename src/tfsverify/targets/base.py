"""The Target protocol: what every place the deployment runs in must offer.

Both targets (the embedded local one and Kubernetes) implement it, so the same experiment
runs on either. Reads return frozen snapshots; every fault returns what it touched so that
it can be undone and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Pod:
    name: str
    node: str | None  # None while Pending
    ready: bool
    restarts: int
    address: str | None  # host:port of the pod's mTLS (mesh) endpoint; None while not running
    phase: str = "Running"  # Pending | Running | Terminating
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Node:
    name: str
    schedulable: bool
    gpu: int  # allocatable nvidia.com/gpu
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TlsMaterial:
    """Paths and identity of an authorised mesh client."""

    ca: Path
    cert: Path
    key: Path
    server_name: str  # the name to verify the server certificate against
    principal: str  # e.g. cluster.local/ns/tfsverify-load/sa/loadgen


# Istio's retry policy for a route without ``retries`` (MeshConfig defaultHttpRetryPolicy)
ISTIO_DEFAULT_RETRY_ON = frozenset(
    {"connect-failure", "refused-stream", "unavailable", "cancelled"}
)
ISTIO_DEFAULT_ATTEMPTS = 2


@dataclass(frozen=True)
class RoutePolicy:
    """The retry and timeout policy of the mesh route to the service, as a meshed client's
    sidecar applies it (Istio VirtualService ``http[].retries``, ``timeout``, ``fault``).

    ``attempts`` is Istio's: the number of *retries* after the first try (0: none).
    ``retry_on`` holds Envoy retry-on and gRPC retry-on names (``connect-failure``,
    ``refused-stream``, ``reset``, ``unavailable``, ``cancelled``, ``deadline-exceeded``,
    ``internal``, ``resource-exhausted``, ...). ``per_try_timeout_s`` bounds each try,
    ``timeout_s`` the whole request (``None``: not set). ``backoff_base_s`` is Envoy's retry
    back-off base (25 ms). With ``fault_on_route`` the route carries a client-side fault,
    which in Istio disables its retries and timeout.
    """

    attempts: int = ISTIO_DEFAULT_ATTEMPTS
    retry_on: frozenset[str] = ISTIO_DEFAULT_RETRY_ON
    per_try_timeout_s: float | None = None
    timeout_s: float | None = None
    backoff_base_s: float = 0.025
    fault_on_route: bool = False

    @property
    def retries(self) -> int:
        """The retries a failed request may get: 0 when a fault is on the route."""
        return 0 if self.fault_on_route or not self.retry_on else max(0, self.attempts)


@dataclass(frozen=True)
class Endpoint:
    """How load reaches the service: the ready pod addresses plus the client's TLS material,
    and the route's retry policy where the client must apply it itself (``None``: none, e.g.
    in a cluster where the client's own sidecar retries)."""

    addresses: tuple[str, ...]
    tls: TlsMaterial | None  # None means plaintext
    route: RoutePolicy | None = None
    # the route's weighted destinations where the client must split traffic itself (a
    # VirtualService route to several subsets, e.g. stable and canary): (weight, ready
    # addresses of that destination). Empty: every address takes a share.
    split: tuple[tuple[int, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ModelStatus:
    name: str
    versions: dict[int, str]  # version -> state (AVAILABLE, LOADING, ...)


@dataclass(frozen=True)
class GrpcFault:
    """An Istio-style fault on the route to the model servers."""

    abort_status: str | None = None  # gRPC status name, ALL CAPS (Istio's grpcStatus)
    abort_pct: float = 0.0
    delay_ms: float = 0.0
    delay_pct: float = 0.0


@dataclass(frozen=True)
class SecurityCheck:
    """A mesh security probe's outcome: ``passed``, the gRPC status the client saw, why."""

    name: str
    passed: bool
    status: str  # "OK" or a gRPC status name
    detail: str


@runtime_checkable
class Target(Protocol):
    """What experiments, probes and the load engine may ask of a target."""

    name: str

    # reads
    def pods(self) -> list[Pod]: ...
    def nodes(self) -> list[Node]: ...
    def endpoint(self) -> Endpoint: ...
    def model_status(self, name: str, version: int | None = None) -> ModelStatus: ...

    # faults: each returns the names of what it touched
    def kill_pods(self, count: int, seed: int | None = None) -> list[str]: ...
    def cordon_node(self, name: str) -> list[str]: ...
    def drain_node(self, name: str) -> list[str]: ...
    def uncordon_node(self, name: str) -> list[str]: ...
    def kill_sidecar(self, pod: str) -> list[str]: ...
    def inject_grpc_fault(self, fault: GrpcFault) -> list[str]: ...
    def rollout_model(self, version: int, weight_pct: int) -> list[str]: ...
    def clear_faults(self) -> list[str]: ...  # also returns the route to its manifest weights

    # the disruption budget of the serving deployment (blast-radius checks)
    def desired_replicas(self) -> int: ...
    def min_available(self) -> int: ...

    # mesh security probes: one real call each, never raising for a policy failure
    def plaintext_call_rejected(self) -> SecurityCheck: ...
    def foreign_ca_rejected(self) -> SecurityCheck: ...
    def unauthorised_principal_denied(self) -> SecurityCheck: ...
    def authorised_call_succeeds(self) -> SecurityCheck: ...
