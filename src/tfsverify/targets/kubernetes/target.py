"""The Kubernetes target: the Target protocol on a real cluster, behind safety rails.

Build it with :meth:`KubernetesTarget.from_environment` (variables in
:mod:`tfsverify.targets.kubernetes.config`). Construction checks the kube context against
the allow-list from the kubeconfig file alone and sends no request when it is refused
(BadInput, exit 2). The first request checks that the namespace is opted in; every fault
checks it again. In dry-run mode reads happen, and every change is printed as one line
(``dry-run: would ...``) instead of made.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput, TargetError
from tfsverify.targets.base import Endpoint, GrpcFault, ModelStatus, Node, Pod, SecurityCheck
from tfsverify.targets.kubernetes import drain, faults, loadrunner, mesh, rails, sidecar
from tfsverify.targets.kubernetes.client import Kube
from tfsverify.targets.kubernetes.config import KubeSettings, settings_from_environment
from tfsverify.targets.kubernetes.loadrunner import LoadJobRunner
from tfsverify.targets.kubernetes.objects import (
    is_ready,
    label_selector,
    phase,
    ready_addresses,
    to_node,
    to_pod,
)

LOADGEN_PRINCIPAL = "cluster.local/ns/tfsverify/sa/loadgen"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class KubernetesTarget:
    """Target protocol over one namespace of one cluster."""

    name = "kubernetes"

    def __init__(self, settings: KubeSettings, announce: Callable[[str], None] = _stderr) -> None:
        self.settings = settings
        self.announce = announce
        self.context = rails.resolve_context(settings)
        rails.check_context_allowed(self.context, settings.allowed_contexts)
        self.kube = Kube(settings, self.context)
        self.state_dir: Path | None = settings.state_dir
        self._opted_in = False

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None,
                         announce: Callable[[str], None] = _stderr) -> KubernetesTarget:
        return cls(settings_from_environment(env), announce)

    # rails -----------------------------------------------------------------------------
    def _check_namespace(self, again: bool = False) -> None:
        if self._opted_in and not again:
            return
        ns = self.settings.namespace
        namespace = self.kube.call("get", "namespaces", None, self.kube.core.read_namespace, ns)
        rails.check_namespace_opted_in(namespace)
        self._opted_in = True

    def _before_fault(self) -> None:
        self._check_namespace(again=True)

    # raw reads -------------------------------------------------------------------------
    def _deployment(self) -> dict[str, Any]:
        s = self.settings
        return self.kube.call("get", "deployments.apps", s.namespace,
                              self.kube.apps.read_namespaced_deployment, s.deployment, s.namespace)

    def _selector(self) -> str:
        match = ((self._deployment().get("spec") or {}).get("selector") or {}).get("matchLabels")
        if not match:
            raise TargetError(f"Deployment {self.settings.deployment} has no matchLabels selector")
        return label_selector(match)

    def _raw_pods(self) -> list[dict[str, Any]]:
        self._check_namespace()
        s = self.settings
        found = self.kube.call("list", "pods", s.namespace, self.kube.core.list_namespaced_pod,
                               s.namespace, label_selector=self._selector())
        return sorted(found.get("items") or [], key=lambda p: p["metadata"]["name"])

    def _read_pod(self, name: str) -> dict[str, Any]:
        s = self.settings
        return self.kube.call("get", "pods", s.namespace, self.kube.core.read_namespaced_pod,
                              name, s.namespace)

    # reads -----------------------------------------------------------------------------
    def pods(self) -> list[Pod]:
        return [to_pod(p, self.settings.grpc_port) for p in self._raw_pods()]

    def nodes(self) -> list[Node]:
        self._check_namespace()
        items = self.kube.call("list", "nodes", None, self.kube.core.list_node).get("items") or []
        return sorted((to_node(n) for n in items), key=lambda n: n.name)

    def endpoint(self) -> Endpoint:
        """Ready pod addresses from the Service's EndpointSlices; ``tls`` is None because in
        the mesh the caller's sidecar originates mTLS."""
        self._check_namespace()
        s = self.settings
        slices = self.kube.call(
            "list", "endpointslices.discovery.k8s.io", s.namespace,
            self.kube.discovery.list_namespaced_endpoint_slice, s.namespace,
            label_selector=f"kubernetes.io/service-name={s.service}",
        ).get("items") or []
        return Endpoint(addresses=tuple(ready_addresses(slices, "grpc", s.grpc_port)), tls=None)

    def model_address(self) -> str:
        return self.settings.model_address or self.settings.service_address

    def model_status(self, name: str | None = None, version: int | None = None) -> ModelStatus:
        self._check_namespace()
        return mesh.model_status(self.model_address(), name or self.settings.deployment, version,
                                 self.settings.request_timeout_s)

    def desired_replicas(self) -> int:
        self._check_namespace()
        return int((self._deployment().get("spec") or {}).get("replicas", 1))

    def min_available(self) -> int:
        """Ready pods the PodDisruptionBudget covering the deployment's pods requires."""
        self._check_namespace()
        s = self.settings
        labels = (((self._deployment().get("spec") or {}).get("template") or {})
                  .get("metadata") or {}).get("labels") or {}
        budgets = self.kube.call("list", "poddisruptionbudgets.policy", s.namespace,
                                 self.kube.policy.list_namespaced_pod_disruption_budget,
                                 s.namespace).get("items") or []
        for budget in budgets:
            spec = budget.get("spec") or {}
            match = (spec.get("selector") or {}).get("matchLabels") or {}
            if match and all(labels.get(k) == v for k, v in match.items()):
                return rails.desired_healthy(spec, self.desired_replicas())
        return 0

    def status(self) -> dict[str, Any]:
        """The published status (``tfsverify status --json``)."""
        model: dict[str, Any] | None
        try:
            found = self.model_status()
            model = {"name": found.name, "versions": found.versions}
        except TargetError:
            model = None
        return {
            "target": self.name,
            "context": self.context,
            "namespace": self.settings.namespace,
            "pods": [{"name": p.name, "node": p.node, "ready": p.ready, "restarts": p.restarts,
                      "address": p.address, "phase": p.phase} for p in self.pods()],
            "nodes": [{"name": n.name, "schedulable": n.schedulable, "gpu": n.gpu}
                      for n in self.nodes()],
            "tls": {"ca": None, "cert": None, "key": None,
                    "server_name": self.settings.service_address.rpartition(":")[0],
                    "principal": LOADGEN_PRINCIPAL},
            "model": model,
        }

    # the load from inside the mesh -----------------------------------------------------
    @property
    def load_mode(self) -> str:
        """``job`` (load as a Job inside the mesh) or ``direct`` (in this process)."""
        return self.settings.load_mode

    def load_job(self, name: str, profile_name: str, profile_document: str, rate_rps: float,
                 duration_s: float) -> LoadJobRunner:
        """The runner of one in-mesh ``tfsverify load --stream`` Job (created by ``create()``)."""
        self._check_namespace()
        return loadrunner.job_runner(self.kube, self.settings, self.announce, name,
                                     profile_name, profile_document, rate_rps, duration_s)

    # faults ----------------------------------------------------------------------------
    def kill_pods(self, count: int, seed: int | None = None,
                  grace_s: int | None = None) -> list[str]:
        """Delete ``count`` running serving pods, chosen without replacement by ``seed``.

        Refuses (TargetError) when the ready pods left would be fewer than the
        PodDisruptionBudget requires. ``grace_s`` None uses the pod's own grace period.
        """
        if count < 1:
            raise BadInput(f"count={count}: must be at least 1")
        self._before_fault()
        raw = [p for p in self._raw_pods() if phase(p) == "Running"]
        names = [p["metadata"]["name"] for p in raw]
        if count > len(names):
            raise TargetError(f"asked to kill {count} pods but only {len(names)} are running")
        chosen = random.Random(seed).sample(names, count)
        ready = sum(1 for p in raw if is_ready(p))
        taking = sum(1 for p in raw if is_ready(p) and p["metadata"]["name"] in chosen)
        rails.check_above_budget(taking, ready, self.min_available(), f"kill {count} pods")
        s = self.settings
        for name in chosen:
            if s.dry_run:
                self.announce(f"dry-run: would delete pod {s.namespace}/{name}")
                continue
            self.kube.call("delete", "pods", s.namespace, self.kube.core.delete_namespaced_pod,
                           name, s.namespace, grace_period_seconds=grace_s)
        return chosen

    def cordon_node(self, name: str) -> list[str]:
        """Mark ``name`` unschedulable (annotated, so recover finds it); evicts nothing."""
        self._before_fault()
        drain.cordon(self.kube, self.settings, name, self.announce)
        return [name]

    def drain_node(self, name: str) -> list[str]:
        """Cordon ``name``, evict the namespace's pods on it (PDB honoured, mesh pods
        included) and wait until they are gone, as ``kubectl drain`` does. Their
        replacements may stay Pending (no free GPU elsewhere): waiting for them to be Ready
        is the experiment's business (``wait_for_ready_replicas``)."""
        self._before_fault()
        import time

        s = self.settings
        on_node = drain.pods_on_node(self.kube, s, name)
        evicting = [p["metadata"]["name"] for p in on_node]
        drain.cordon(self.kube, s, name, self.announce)
        if s.dry_run:
            for pod in evicting:
                self.announce(f"dry-run: would evict pod {s.namespace}/{pod} from node {name}")
            return evicting
        deadline = time.monotonic() + s.drain_timeout_s
        for pod in evicting:
            drain.evict(self.kube, s, pod, deadline)
        drain.wait_gone(self._raw_pods, s, name, evicting, deadline)
        return evicting

    def uncordon_node(self, name: str) -> list[str]:
        self._before_fault()
        return drain.uncordon(self.kube, self.settings, name, self.announce)

    def kill_sidecar(self, pod: str) -> list[str]:
        """Kill ``pod``'s istio-proxy (classic or native sidecar); returns ``pod/istio-proxy``."""
        self._before_fault()
        return sidecar.kill(self.kube, self.settings, self._read_pod, pod, self.announce)

    def inject_grpc_fault(self, fault: GrpcFault) -> list[str]:
        """Set an Istio fault on the serving route (snapshot kept for restore)."""
        self._before_fault()
        s = self.settings
        return faults.change(
            self.kube, s, lambda spec: faults.with_fault(spec, fault, s.route, s.virtual_service),
            f"fault {faults.istio_fault(fault)} on route {s.route}", self.announce)

    def set_canary_weight(self, weight_pct: int) -> list[str]:
        """Send ``weight_pct`` % of the route to the canary subset (snapshot kept)."""
        self._before_fault()
        s = self.settings
        return faults.change(
            self.kube, s,
            lambda spec: faults.with_canary_weight(spec, weight_pct, s.route, s.virtual_service),
            f"canary weight {weight_pct} % on route {s.route}", self.announce)

    def rollout_model(self, version: int, weight_pct: int) -> list[str]:
        """Send ``weight_pct`` % of the route to the canary subset, whose Deployment serves
        model ``version`` (reference-deploy/components/canary); snapshot kept."""
        return self.set_canary_weight(weight_pct)

    def clear_faults(self) -> list[str]:
        """Restore the VirtualService from its snapshot (faults and canary weights)."""
        self._before_fault()
        return faults.restore(self.kube, self.settings, self.announce)

    def recover(self) -> list[str]:
        """Undo what a crashed run left: restore the snapshotted VirtualService and uncordon
        every node tfsverify cordoned. Idempotent; needs no local state."""
        self._before_fault()
        touched = faults.restore(self.kube, self.settings, self.announce)
        for node in drain.cordoned_by_us(self.kube):
            touched += [f"Node/{n}" for n in
                        drain.uncordon(self.kube, self.settings, node, self.announce)]
        return touched

    # mesh security probes --------------------------------------------------------------
    def _pod_address(self) -> str:
        for pod in self.pods():
            if pod.ready and pod.address:
                return pod.address
        raise TargetError("no ready pod to probe the mesh security of")

    def plaintext_call_rejected(self) -> SecurityCheck:
        """Outside the mesh: plaintext to a ready pod's port gets no answer."""
        return mesh.plaintext_call_rejected(self._pod_address())

    def foreign_ca_rejected(self) -> SecurityCheck:
        """Outside the mesh: a foreign CA's certificate is refused by the pod's sidecar."""
        return mesh.foreign_ca_rejected(self._pod_address(), LOADGEN_PRINCIPAL)

    def unauthorised_principal_denied(self) -> SecurityCheck:
        """Inside the mesh as loadgen: ModelService answers PERMISSION_DENIED."""
        self._check_namespace()
        return mesh.unauthorised_principal_denied(self.settings.service_address,
                                                  self.settings.deployment)

    def authorised_call_succeeds(self) -> SecurityCheck:
        """Inside the mesh as loadgen: a golden Predict gets the golden answer."""
        self._check_namespace()
        return mesh.authorised_call_succeeds(self.settings.service_address)
