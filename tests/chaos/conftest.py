"""A Target that lives in memory (fakes over mocks): pods on nodes, cordons, a mesh fault."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tfsverify.chaos import context
from tfsverify.chaos.target import use_target
from tfsverify.errors import BadInput, TargetError, TargetNotRunning
from tfsverify.targets.base import Endpoint, GrpcFault, ModelStatus, Node, Pod, SecurityCheck


class FakeTarget:
    """Three replicas on three nodes, a budget of maxUnavailable 1 (two must stay ready)."""

    name = "fake"

    def __init__(self, state_dir: Path, replicas: int = 3, min_available: int = 2) -> None:
        self.state_dir = state_dir
        self.replicas = replicas
        self.required = min_available
        self.running = True
        self.cordoned: set[str] = set()
        self.fault: GrpcFault | None = None
        self.canary_weight_pct = 0
        self.calls: list[str] = []
        self._pods = [Pod(f"pod-{i}", f"node-{i}", True, 0, f"127.0.0.{i + 1}:8500")
                      for i in range(replicas)]

    def _check(self) -> None:
        if not self.running:
            raise TargetNotRunning("the fake target is not running")

    def pods(self) -> list[Pod]:
        self._check()
        return list(self._pods)

    def nodes(self) -> list[Node]:
        self._check()
        return [Node(f"node-{i}", f"node-{i}" not in self.cordoned, 0) for i in range(3)]

    def endpoint(self) -> Endpoint:
        return Endpoint(tuple(p.address for p in self._pods if p.ready and p.address), None)

    def model_status(self, name: str, version: int | None = None) -> ModelStatus:
        return ModelStatus(name or "model", {1: "AVAILABLE"})

    def kill_pods(self, count: int, seed: int | None = None) -> list[str]:
        self._check()
        chosen = random.Random(seed).sample(sorted(p.name for p in self._pods), count)
        self._pods = [replace(p, ready=False) if p.name in chosen else p for p in self._pods]
        self.calls.append(f"kill {','.join(chosen)}")
        return chosen

    def cordon_node(self, name: str) -> list[str]:
        self._check()
        self.cordoned.add(name)
        self.calls.append(f"cordon {name}")
        return [name]

    def drain_node(self, name: str) -> list[str]:
        self._check()
        self.cordoned.add(name)
        moved = [p.name for p in self._pods if p.node == name]
        target = next(f"node-{i}" for i in range(3) if f"node-{i}" not in self.cordoned)
        self._pods = [replace(p, node=target) if p.node == name else p for p in self._pods]
        self.calls.append(f"drain {name}")
        return moved

    def uncordon_node(self, name: str) -> list[str]:
        self._check()
        self.cordoned.discard(name)
        self.calls.append(f"uncordon {name}")
        return [name]

    def kill_sidecar(self, pod: str) -> list[str]:
        self._check()
        if pod not in {p.name for p in self._pods}:
            raise BadInput(f"pod {pod} not found")
        self.calls.append(f"kill-sidecar {pod}")
        return [f"{pod}/istio-proxy"]

    def inject_grpc_fault(self, fault: GrpcFault) -> list[str]:
        self._check()
        self.fault = fault
        self.calls.append(f"fault {fault.abort_status} {fault.abort_pct:g}")
        return [p.name for p in self._pods]

    def rollout_model(self, version: int, weight_pct: int) -> list[str]:
        self._check()
        if version != 2:
            raise TargetError(f"cannot roll out version {version}: no track serves it")
        self.canary_weight_pct = weight_pct
        self.calls.append(f"rollout v{version} {weight_pct}")
        return ["canary", "stable"]

    def clear_faults(self) -> list[str]:
        self._check()
        self.fault = None
        self.canary_weight_pct = 0
        self.calls.append("clear")
        return [p.name for p in self._pods]

    def desired_replicas(self) -> int:
        return self.replicas

    def min_available(self) -> int:
        return self.required

    def _security(self, name: str) -> SecurityCheck:
        return SecurityCheck(name, True, "OK", f"{name}: fake")

    def plaintext_call_rejected(self) -> SecurityCheck:
        return self._security("plaintext_call_rejected")

    def foreign_ca_rejected(self) -> SecurityCheck:
        return self._security("foreign_ca_rejected")

    def unauthorised_principal_denied(self) -> SecurityCheck:
        return self._security("unauthorised_principal_denied")

    def authorised_call_succeeds(self) -> SecurityCheck:
        return self._security("authorised_call_succeeds")


@pytest.fixture
def fake_target(tmp_path: Path) -> Iterator[FakeTarget]:
    target = FakeTarget(tmp_path / "state")
    use_target(target)
    context.set_experiment("test-experiment")
    yield target
    use_target(None)
    context.set_experiment(None)
