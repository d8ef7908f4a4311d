"""The supervisor's live records of pods, containers, nodes and events, and how they are
published: ``status.json``, written atomically on every change::

    {"target": "local", "supervisor_pid", "state_dir", "overlay", "started_at" (ISO 8601),
     "started_epoch_s", "startup_error": null | "<one line>",
     "pods": [{"name", "deployment", "node", "phase": Pending|Running|Terminating|Failed,
               "ready", "restarts", "address" (where clients dial), "app_address" (the app's
               gRPC port), "ip", "labels", "pending_reason",
               "containers": [{"name", "pid", "state": Waiting|Running|CrashLoopBackOff|
                               Terminated, "ready", "restarts", "last_exit_code"}]}],
     "endpoints": ["<address of each ready pod>", ...],
     "nodes": [{"name", "schedulable", "gpu", "labels", "taints": [{"key", "value",
                "effect"}], "pods": [names], "allocatable": {"cpu_m", "memory_b", "gpu",
                "pods"}}],
     "mesh": {"version", "mtls_mode", "fault", "route_weights": {"<subset>": weight}},
     "tls": null | {"ca", "cert", "key", "server_name", "principal"},
     "events": [{"time", "type": Normal|Warning, "object", "reason", "message", "count"}]}

Only the supervisor's event loop mutates these records; readers get JSON snapshots.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput
from tfsverify.targets.local.spec import DeploymentSpec, NodeSpec, Resources

EVENTS_KEPT = 200
DEFAULT_POD_CIDR = "127.0.1.0/24"
DEFAULT_POD_LOCAL_CIDR = "127.0.2.0/24"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def write_json_atomic(path: Path, document: Any) -> None:
    """Write ``document`` so that readers see the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(document, out, indent=1, sort_keys=False)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class ContainerState:
    name: str
    sidecar: bool = False
    pid: int | None = None
    state: str = "Waiting"  # Waiting | Running | CrashLoopBackOff | Terminated
    started: bool = False  # startup probe passed (or none configured)
    ready: bool = False
    restarts: int = 0
    last_exit_code: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.pid, "state": self.state, "ready": self.ready,
                "restarts": self.restarts, "last_exit_code": self.last_exit_code}


@dataclass
class PodState:
    name: str
    deployment: DeploymentSpec
    labels: dict[str, str]
    requests: Resources
    containers: list[ContainerState]
    phase: str = "Pending"  # Pending | Running | Terminating | Failed
    node: str | None = None
    index: int | None = None  # N of the pod IP 127.0.1.N and pod localhost 127.0.2.N
    ip: str | None = None
    local_ip: str | None = None
    address: str | None = None
    app_address: str | None = None
    pending_reason: str | None = None

    @property
    def ready(self) -> bool:
        return self.phase == "Running" and all(c.ready for c in self.containers)

    @property
    def restarts(self) -> int:
        return sum(c.restarts for c in self.containers)

    def container(self, name: str) -> ContainerState | None:
        return next((c for c in self.containers if c.name == name), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "deployment": self.deployment.name, "node": self.node,
            "phase": self.phase, "ready": self.ready, "restarts": self.restarts,
            "address": self.address, "app_address": self.app_address, "ip": self.ip,
            "labels": self.labels, "pending_reason": self.pending_reason,
            "containers": [c.as_json() for c in self.containers],
        }


class EventLog:
    """The last 200 Kubernetes-like events, oldest first. Like the kubelet's event
    correlator, a repeat of a kept event moves it to the end and bumps its ``count``."""

    def __init__(self) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)
        self.on_add: Callable[[], None] | None = None  # e.g. republish the status

    def add(self, type_: str, obj: str, reason: str, message: str) -> None:
        count = 1
        for kept in self._events:
            if (kept["type"], kept["object"], kept["reason"], kept["message"]) == (
                    type_, obj, reason, message):
                count += kept["count"]
                self._events.remove(kept)
                break
        self._events.append({"time": now_iso(), "type": type_, "object": obj,
                             "reason": reason, "message": message, "count": count})
        if self.on_add is not None:
            self.on_add()

    def as_json(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._events]


class AddressPool:
    """Pod IPs (``pod_cidr``) and pod-localhost IPs (``local_cidr``) paired by index N:
    the lowest N in 1..254 that no live pod holds."""

    def __init__(self, pod_cidr: str, local_cidr: str) -> None:
        try:
            self._pod = ipaddress.IPv4Network(pod_cidr)
            self._local = ipaddress.IPv4Network(local_cidr)
        except ValueError as exc:
            raise BadInput(f"bad pod address range: {exc}") from exc
        for net in (self._pod, self._local):
            if not net.is_loopback:
                raise BadInput(f"pod address range {net} is outside 127.0.0.0/8")
        self._size = min(254, self._pod.num_addresses - 2, self._local.num_addresses - 2)
        self._taken: set[int] = set()

    def allocate(self) -> tuple[int, str, str]:
        for n in range(1, self._size + 1):
            if n not in self._taken:
                self._taken.add(n)
                return n, str(self._pod.network_address + n), str(self._local.network_address + n)
        raise OverflowError(f"no free pod address left in {self._pod}")

    def release(self, n: int | None) -> None:
        if n is not None:
            self._taken.discard(n)


@dataclass
class ClusterState:
    """Everything ``status.json`` publishes."""

    state_dir: Path
    overlay: Path
    nodes: tuple[NodeSpec, ...]
    pods: dict[str, PodState] = field(default_factory=dict)
    cordoned: set[str] = field(default_factory=set)
    events: EventLog = field(default_factory=EventLog)
    mesh: dict[str, Any] = field(default_factory=dict)
    tls: dict[str, str] | None = None
    startup_error: str | None = None
    started_at: str = field(default_factory=now_iso)
    started_epoch_s: float = field(default_factory=time.time)

    def init_mesh(self, deployments: Iterable[DeploymentSpec]) -> None:
        """Version 1 of the mesh config, from the first meshed deployment's Istio objects."""
        listed = list(deployments)
        source = next((d for d in listed if d.template.sidecar_injected),
                      listed[0] if listed else None)
        mesh = source.mesh if source else None
        self.mesh = {
            "version": 1,
            "mtls_mode": mesh.mtls_mode if mesh else "UNSET",
            "authorization": list(mesh.authorization) if mesh else [],
            "fault": mesh.fault if mesh else None,
            # the route's destination weights (subset -> weight), as the manifests set them
            # and as a rollout changes them; the mesh client splits traffic by them
            "route_weights": dict(mesh.route_weights) if mesh else {},
            "manifest_route_weights": dict(mesh.route_weights) if mesh else {},
        }

    def mesh_document(self) -> dict[str, Any]:
        """``mesh.json``: what every sidecar applies (Istio field shapes)."""
        return {k: self.mesh[k] for k in ("version", "mtls_mode", "authorization", "fault")}

    def live_pods(self) -> Iterable[PodState]:
        return (p for p in self.pods.values() if p.phase != "Terminating")

    def status_document(self) -> dict[str, Any]:
        pods = sorted(self.pods.values(), key=lambda p: p.name)
        return {
            "target": "local",
            "supervisor_pid": os.getpid(),
            "state_dir": str(self.state_dir),
            "overlay": str(self.overlay),
            "started_at": self.started_at,
            "started_epoch_s": self.started_epoch_s,
            "startup_error": self.startup_error,
            "pods": [p.as_json() for p in pods],
            "endpoints": sorted(p.address for p in pods if p.ready and p.address),
            "nodes": [self._node_json(n) for n in self.nodes],
            "mesh": {k: self.mesh.get(k)
                     for k in ("version", "mtls_mode", "fault", "route_weights")},
            "tls": self.tls,
            "events": self.events.as_json(),
        }

    def _node_json(self, node: NodeSpec) -> dict[str, Any]:
        on_node = [p for p in self.pods.values() if p.node == node.name]
        return {
            "name": node.name,
            "schedulable": node.name not in self.cordoned,
            "gpu": node.allocatable.gpu,
            "labels": node.labels,
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.taints],
            "pods": sorted(p.name for p in on_node),
            "allocatable": {"cpu_m": node.allocatable.cpu_m,
                            "memory_b": node.allocatable.memory_b,
                            "gpu": node.allocatable.gpu, "pods": node.max_pods},
        }
