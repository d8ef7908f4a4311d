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


@dataclass(frozen=True)
class Endpoint:
    """How load reaches the service: the ready pod addresses plus the client's TLS material."""

    addresses: tuple[str, ...]
    tls: TlsMaterial | None  # None means plaintext


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
    def drain_node(self, name: str) -> list[str]: ...
    def uncordon_node(self, name: str) -> list[str]: ...
    def kill_sidecar(self, pod: str) -> list[str]: ...
    def inject_grpc_fault(self, fault: GrpcFault) -> list[str]: ...
    def clear_faults(self) -> list[str]: ...

    # the disruption budget of the serving deployment (blast-radius checks)
    def desired_replicas(self) -> int: ...
    def min_available(self) -> int: ...

    # mesh security probes: one real call each, never raising for a policy failure
    def plaintext_call_rejected(self) -> SecurityCheck: ...
    def foreign_ca_rejected(self) -> SecurityCheck: ...
    def unauthorised_principal_denied(self) -> SecurityCheck: ...
    def authorised_call_succeeds(self) -> SecurityCheck: ...
