"""The ReplicaSet and the scheduler's binding: keep each deployment's pods, place them, start
them, delete them.

- Each deployment keeps ``replicas`` pods that are not terminating (Pending, Running and
  Failed count); a deleted or evicted pod is replaced at once, its replacement scheduled
  while the old one terminates.
- Pending pods are (re)tried whenever something changes and at least every second; a pod
  that does not fit keeps the scheduler's reason (``pending_reason``, a FailedScheduling
  event each time it changes).
- A scheduled pod gets the lowest free pod IP and starts at once; if it cannot start (an
  address in use, a file it cannot write), it is Failed; during start-up that is fatal.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Callable
from pathlib import Path

from tfsverify.errors import TargetError
from tfsverify.targets.local.kubelet import Hooks, PodRuntime
from tfsverify.targets.local.podplan import (
    SIDECAR_NAME,
    WorkloadTls,
    check_listen_free,
    plan_pod,
    pod_name,
    template_hash,
)
from tfsverify.targets.local.scheduler import PlacedPod, pod_request_for, pod_requests, schedule
from tfsverify.targets.local.spec import ClusterSpec, DeploymentSpec
from tfsverify.targets.local.state import AddressPool, ClusterState, ContainerState, PodState


class PodController:
    """The pods of every deployment of ``spec``, as a ReplicaSet and kube-scheduler keep them."""

    def __init__(self, spec: ClusterSpec, state: ClusterState, pool: AddressPool,
                 state_dir: Path, hooks: Hooks, wake: Callable[[], None]) -> None:
        self.spec, self.state, self.pool, self.dir = spec, state, pool, state_dir
        self.hooks, self.wake, self.changed = hooks, wake, hooks.changed
        self.runtimes: dict[str, PodRuntime] = {}
        self.tls: dict[str, WorkloadTls] = {}  # deployment name -> its workload certificate
        self.starting = True  # a pod that cannot start is fatal while this holds
        self._rng = random.Random()
        self._terminations: set[asyncio.Task[None]] = set()

    @property
    def mesh_path(self) -> Path:
        return self.dir / "mesh.json"

    def reconcile(self) -> None:
        """Create missing pods, then place and start the pending ones."""
        for deployment in self.spec.deployments:
            active = [p for p in self.state.live_pods() if p.deployment is deployment]
            for _ in range(deployment.replicas - len(active)):
                self._create_pod(deployment)
        self._schedule_pending()

    def _create_pod(self, deployment: DeploymentSpec) -> None:
        name = pod_name(deployment, self._rng)
        while name in self.state.pods:
            name = pod_name(deployment, self._rng)
        template = deployment.template
        records = [ContainerState(c.name) for c in template.containers]
        if template.sidecar_injected:
            records.insert(0, ContainerState(SIDECAR_NAME, sidecar=True))
        labels = {**template.labels, "pod-template-hash": template_hash(deployment)}
        self.state.pods[name] = PodState(name, deployment, labels, pod_requests(template), records)
        self.state.events.add("Normal", f"replicaset/{deployment.name}-{template_hash(deployment)}",
                              "SuccessfulCreate", f"Created pod: {name}")
        self.changed()

    def _schedule_pending(self) -> None:
        placed = [PlacedPod(p.node, p.deployment.namespace, p.labels, p.requests,
                            terminating=p.phase == "Terminating")
                  for p in self.state.pods.values() if p.node and p.phase != "Failed"]
        for pod in [p for p in self.state.pods.values() if p.phase == "Pending" and not p.node]:
            d = pod.deployment
            request = pod_request_for(d.template, d.namespace, d.selector, pod.labels)
            decision = schedule(request, self.spec.nodes, self.state.cordoned, placed)
            if decision.node is None:
                if pod.pending_reason != decision.reason:
                    pod.pending_reason = decision.reason
                    self.state.events.add("Warning", f"pod/{pod.name}", "FailedScheduling",
                                          decision.reason)
                    self.changed()
                continue
            pod.node, pod.pending_reason = decision.node, None
            placed.append(PlacedPod(decision.node, d.namespace, pod.labels, pod.requests))
            self.state.events.add("Normal", f"pod/{pod.name}", "Scheduled",
                                  f"Successfully assigned {d.namespace}/{pod.name} to "
                                  f"{decision.node}")
            self._start_pod(pod)

    def _start_pod(self, pod: PodState) -> None:
        d = pod.deployment
        try:
            pod.index, pod.ip, pod.local_ip = self.pool.allocate()
            pod_dir = self.dir / "pods" / pod.name
            plan = plan_pod(d, pod.name, pod.ip, pod.local_ip, pod_dir, self.spec.overlay,
                            self.mesh_path, self.tls.get(d.name))
            check_listen_free(pod.name, plan.listen)
        except (TargetError, OverflowError, OSError) as exc:
            pod.phase = "Failed"
            self.pool.release(pod.index)
            self.state.events.add("Warning", f"pod/{pod.name}", "Failed", str(exc))
            self.changed()
            if self.starting:
                raise TargetError(str(exc)) from exc
            return
        pod.address, pod.app_address = plan.address, plan.app_address
        runtime = PodRuntime(pod, plan, pod_dir, self.hooks)
        self.runtimes[pod.name] = runtime
        runtime.start()

    # deletion ----------------------------------------------------------------------------
    def delete_pod(self, pod: PodState, grace_s: float | None = None) -> asyncio.Task[None] | None:
        """Graceful deletion: Terminating and out of endpoints at once, replaced at once."""
        runtime = self.runtimes.get(pod.name)
        if runtime is None:
            self._forget(pod)
            self.wake()
            return None
        if pod.phase == "Terminating":
            if grace_s == 0:
                runtime.kill_now()
            return None
        pod.phase = "Terminating"
        self.changed()
        task = asyncio.get_running_loop().create_task(self._terminate(pod, runtime, grace_s))
        self._terminations.add(task)
        task.add_done_callback(self._terminations.discard)
        self.wake()
        return task

    async def _terminate(self, pod: PodState, runtime: PodRuntime, grace_s: float | None) -> None:
        try:
            await runtime.terminate(grace_s)
        finally:
            self._forget(pod)
            self.wake()

    def _forget(self, pod: PodState) -> None:
        self.state.pods.pop(pod.name, None)
        self.runtimes.pop(pod.name, None)
        self.pool.release(pod.index)
        shutil.rmtree(self.dir / "pods" / pod.name / "volumes", ignore_errors=True)
        self.changed()

    async def stop_all(self, timeout_s: float) -> None:
        """SIGKILL every container now (no grace, no restart) and forget every pod."""
        for runtime in self.runtimes.values():
            runtime.kill_now()
        for runtime in list(self.runtimes.values()):
            await runtime.wait_stopped(timeout_s)
        for task in self._terminations:
            task.cancel()
        for pod in list(self.state.pods.values()):
            self._forget(pod)
