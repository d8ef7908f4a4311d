"""What the control API can ask of the supervisor: delete pods, kill a container, cordon,
uncordon and drain nodes, set and clear the mesh fault, shut down.

- ``drain`` works like ``kubectl drain``: cordon, then evict every pod of the node through
  its PodDisruptionBudget, retrying a blocked eviction every second until the timeout (then
  a TargetError naming the budget); it returns the evicted pods once they are gone.
- ``set_fault`` / ``clear_fault`` rewrite ``mesh.json`` with the next version and wait (5 s
  at most) until every running sidecar's ``/config_dump`` reports that version.
  ``clear_fault`` also returns the route's weights to the manifests' ones.
- ``set_route_weights`` moves the route's weight between its destinations (a canary
  rollout). Clients split traffic by weight themselves (in Istio, the caller's sidecar does),
  so it is published in ``status.json`` for them and no pod sidecar has to apply it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import TYPE_CHECKING, Any

from tfsverify.errors import BadInput, TargetError
from tfsverify.targets.local.disruption import BudgetPod, eviction_blocked
from tfsverify.targets.local.podplan import SIDECAR_ADMIN_PORT, SIDECAR_NAME
from tfsverify.targets.local.probes import http_get
from tfsverify.targets.local.state import PodState

if TYPE_CHECKING:
    from tfsverify.targets.local.supervisor import Supervisor

DRAIN_TIMEOUT_S = 120.0
EVICTION_RETRY_S = 1.0
FAULT_APPLY_TIMEOUT_S = 5.0
_POLL_S = 0.1
_SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM}


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value:
        raise BadInput(f'"{key}" must be a non-empty string')
    return value


def _seconds(args: dict[str, Any], *keys: str, default: float | None) -> float | None:
    for key in keys:
        value = args.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise BadInput(f'"{key}" must be a number of seconds >= 0')
        return float(value)
    return default


class Operations:
    """The control ops, run on the supervisor's event loop."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.sup = supervisor

    async def handle(self, op: str, args: dict[str, Any]) -> Any:
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            raise BadInput(f"unknown op {op!r}")
        try:
            return await handler(args)
        finally:
            self.sup.flush_status()  # what the op changed is published before the reply

    def _pod(self, name: str) -> PodState:
        pod = self.sup.state.pods.get(name)
        if pod is None:
            raise BadInput(f"pod {name} not found")
        return pod

    def _node(self, args: dict[str, Any]) -> str:
        name = _text(args, "node")
        if name not in {n.name for n in self.sup.spec.nodes}:
            raise BadInput(f"node {name} not found")
        return name

    # reads -------------------------------------------------------------------------------
    async def _op_ping(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid(), "pods": len(self.sup.state.pods)}

    async def _op_status(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.sup.state.status_document()

    async def _op_shutdown(self, args: dict[str, Any]) -> bool:
        asyncio.get_running_loop().call_later(0.05, self.sup.stop)  # after the reply is out
        return True

    # pods --------------------------------------------------------------------------------
    async def _op_delete_pods(self, args: dict[str, Any]) -> list[str]:
        names = args.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadInput('"names" must be a list of pod names')
        grace_s = _seconds(args, "grace_s", default=None)
        pods = [self._pod(n) for n in names]
        tasks = [t for t in (self.sup.pods.delete_pod(p, grace_s) for p in pods) if t is not None]
        if grace_s == 0 and tasks:
            await asyncio.wait(tasks, timeout=5.0)
        return names

    async def _op_kill_container(self, args: dict[str, Any]) -> list[str]:
        pod = self._pod(_text(args, "pod"))
        container = _text(args, "container")
        sig = _SIGNALS.get(str(args.get("signal", "KILL")).upper())
        if sig is None:
            raise BadInput('"signal" must be KILL or TERM')
        runtime = self.sup.pods.runtimes.get(pod.name)
        runner = runtime.runner(container) if runtime else None
        if runner is None and pod.container(container) is None:
            raise BadInput(f"pod {pod.name} has no container {container}")
        if runner is None or not runner.signal(sig):
            raise TargetError(f"container {container} of pod {pod.name} is not running")
        return [f"{pod.name}/{container}"]

    # nodes -------------------------------------------------------------------------------
    def _cordon(self, node: str, on: bool) -> None:
        if on != (node in self.sup.state.cordoned):
            (self.sup.state.cordoned.add if on else self.sup.state.cordoned.discard)(node)
            reason = "NodeNotSchedulable" if on else "NodeSchedulable"
            self.sup.state.events.add("Normal", f"node/{node}", reason,
                                      f"Node {node} status is now: {reason}")
            self.sup.changed()
            self.sup.wake()

    async def _op_cordon(self, args: dict[str, Any]) -> list[str]:
        node = self._node(args)
        self._cordon(node, True)
        return [node]

    async def _op_uncordon(self, args: dict[str, Any]) -> list[str]:
        node = self._node(args)
        self._cordon(node, False)
        return [node]

    async def _op_drain(self, args: dict[str, Any]) -> list[str]:
        node = self._node(args)
        timeout_s = _seconds(args, "drain_timeout_s", "timeout_s", default=DRAIN_TIMEOUT_S)
        assert timeout_s is not None
        deadline = time.monotonic() + timeout_s
        self._cordon(node, True)
        state = self.sup.state
        waiting = [p for p in state.pods.values() if p.node == node]
        to_evict = [p for p in waiting if p.phase != "Terminating"]
        evicted: list[str] = []
        while to_evict:
            blocked: list[str] = []
            for pod in list(to_evict):
                why = self._eviction_blocked(pod)
                if why is None:
                    to_evict.remove(pod)
                    evicted.append(pod.name)
                    state.events.add("Normal", f"pod/{pod.name}", "Evicted",
                                     f"Evicted by the drain of node {node}")
                    self.sup.pods.delete_pod(pod)
                else:
                    blocked.append(why)
            if not to_evict:
                break
            if time.monotonic() + EVICTION_RETRY_S > deadline:
                raise TargetError(f"drain of node {node} timed out after {timeout_s:g} s: "
                                  f"{blocked[0]}")
            await asyncio.sleep(EVICTION_RETRY_S)
        while any(p.name in state.pods for p in waiting):
            if time.monotonic() > deadline:
                left = sorted(p.name for p in waiting if p.name in state.pods)
                raise TargetError(f"drain of node {node} timed out after {timeout_s:g} s "
                                  f"waiting for pods to terminate: {', '.join(left)}")
            await asyncio.sleep(_POLL_S)
        return evicted

    def _eviction_blocked(self, pod: PodState) -> str | None:
        deployment = pod.deployment
        budget = deployment.budget
        if budget is None:
            return None
        pods = [BudgetPod(p.name, p.deployment.namespace, p.labels, p.phase, p.ready)
                for p in self.sup.state.pods.values()]
        me = next(p for p in pods if p.name == pod.name)
        return eviction_blocked(budget, deployment.namespace, deployment.replicas, pods, me)

    # mesh faults -------------------------------------------------------------------------
    async def _op_set_fault(self, args: dict[str, Any]) -> list[str]:
        fault = args.get("fault")
        if not isinstance(fault, dict):
            raise BadInput('"fault" must be an object in Istio HTTPFaultInjection shape')
        return await self._publish_fault(fault)

    async def _op_clear_fault(self, args: dict[str, Any]) -> list[str]:
        mesh = self.sup.state.mesh
        if mesh.get("route_weights") != mesh.get("manifest_route_weights"):
            self._publish_weights(dict(mesh.get("manifest_route_weights") or {}))
        return await self._publish_fault(None)

    async def _op_set_route_weights(self, args: dict[str, Any]) -> list[str]:
        weights = args.get("weights")
        current = self.sup.state.mesh.get("route_weights") or {}
        if not isinstance(weights, dict) or not weights:
            raise BadInput('"weights" must be an object: destination subset -> weight')
        unknown = sorted(set(weights) - set(current))
        if unknown:
            have = ", ".join(sorted(current)) or "none"
            raise BadInput(f"the route has no destination {unknown[0]!r} (it has: {have})")
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 0
               for w in weights.values()):
            raise BadInput("route weights must be whole numbers >= 0")
        merged = {name: int(weights.get(name, current[name])) for name in current}
        if sum(merged.values()) != 100:
            raise BadInput(f"route weights must add up to 100, got {merged}")
        self._publish_weights(merged)
        return sorted(name for name in merged if merged[name] != current[name])

    def _publish_weights(self, weights: dict[str, int]) -> None:
        mesh = self.sup.state.mesh
        mesh["route_weights"] = weights
        mesh["version"] = version = int(mesh["version"]) + 1
        self.sup.write_mesh()
        shown = ", ".join(f"{name or '(service)'} {weight}" for name, weight in weights.items())
        self.sup.state.events.add("Normal", "mesh", "RouteWeightsSet",
                                  f"mesh config version {version}: route weights {shown}")

    async def _publish_fault(self, fault: dict[str, Any] | None) -> list[str]:
        mesh = self.sup.state.mesh
        mesh["fault"] = fault
        mesh["version"] = version = int(mesh["version"]) + 1
        self.sup.write_mesh()
        reason = "FaultInjected" if fault else "FaultCleared"
        self.sup.state.events.add("Normal", "mesh", reason,
                                  f"mesh config version {version}: fault {json.dumps(fault)}")
        waiting = {p.name: p.ip for p in self.sup.state.pods.values() if self._proxy_runs(p)}
        touched: list[str] = []
        deadline = time.monotonic() + FAULT_APPLY_TIMEOUT_S
        while waiting:
            for name, ip in list(waiting.items()):
                if ip and await _applied_version(ip) >= version:
                    touched.append(name)
                    del waiting[name]
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise TargetError(f"sidecars of {', '.join(sorted(waiting))} did not apply mesh "
                                  f"config version {version} within {FAULT_APPLY_TIMEOUT_S:g} s")
            await asyncio.sleep(_POLL_S)
        return sorted(touched)

    def _proxy_runs(self, pod: PodState) -> bool:
        proxy = pod.container(SIDECAR_NAME)
        return pod.phase == "Running" and proxy is not None and proxy.state == "Running"


async def _applied_version(ip: str) -> int:
    """The mesh config version the sidecar at ``ip`` reports (-1 when it does not answer)."""
    try:
        status, body = await http_get(ip, SIDECAR_ADMIN_PORT, "/config_dump", 1.0)
        version = json.loads(body).get("version") if status == 200 else None
    except (OSError, TimeoutError, ValueError, AttributeError):
        return -1
    return version if isinstance(version, int) else -1
