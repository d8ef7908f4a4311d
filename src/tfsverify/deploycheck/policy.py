"""The policy checks over a rendered overlay: why the deployment is resilient and secure.

Each check is a pure function of the rendered objects, registered here under its id. Its
findings say what is wrong and why it matters; ``tfsverify validate-deploy --list-checks``
prints this table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tfsverify.deploycheck import checks_access, checks_availability, checks_mesh, checks_pods
from tfsverify.deploycheck.findings import Finding
from tfsverify.deploycheck.inventory import Inventory


@dataclass(frozen=True)
class Check:
    id: str
    enforces: str  # one line: what the check requires
    run: Callable[[Inventory], Iterable[Finding]]


CHECKS: tuple[Check, ...] = (
    Check("replicas-min", "serving Deployments (and autoscaler floors) keep >= 3 replicas; "
          "a DestinationRule `canary` subset's track is exempt",
          checks_availability.check_replicas_min),
    Check("pdb-present", "exactly one PodDisruptionBudget selects each Deployment's pods",
          checks_availability.check_pdb_present),
    Check("pdb-satisfiable", "each budget allows >= 1 disruption at the declared replicas and "
          "has unhealthyPodEvictionPolicy AlwaysAllow", checks_availability.check_pdb_satisfiable),
    Check("mtls-strict", "meshed pods under STRICT PeerAuthentication (no PERMISSIVE port, no "
          "DestinationRule that disables Istio mTLS)", checks_mesh.check_mtls_strict),
    Check("authz-not-allow-all", "an ALLOW AuthorizationPolicy covers each workload and admits "
          "named principals only", checks_mesh.check_authz_not_allow_all),
    Check("probe-ports", "probes target declared ports that answer (TF Serving: gRPC probes "
          "need --enable_grpc_healthcheck_service)", checks_pods.check_probe_ports),
    Check("readiness-model", "TF Serving readiness is the model-aware GET "
          "/v1/models/<name>/metadata", checks_pods.check_readiness_model),
    Check("non-root", "every container runs as an explicit non-zero UID, no privilege "
          "escalation, all capabilities dropped", checks_pods.check_non_root),
    Check("resources-set", "every container requests cpu and memory and limits memory; GPUs "
          "in limits", checks_pods.check_resources_set),
    Check("gpu-placement", "pods that use GPUs tolerate the nvidia.com/gpu taint and select "
          "GPU nodes; GPU images request a GPU", checks_pods.check_gpu_placement),
    Check("prestop-drain", "TF Serving has a preStop pause that the grace period outlasts",
          checks_pods.check_prestop_drain),
    Check("model-store", "the model is not served from a ConfigMap volume",
          checks_pods.check_model_store),
    Check("istio-v1", "Istio resources use the v1 APIs", checks_mesh.check_istio_v1),
    Check("route-policy", "VirtualService routes set timeout and retries explicitly, do not "
          "retry UNAVAILABLE, carry no fault", checks_mesh.check_route_policy),
    Check("rbac-least-privilege", "no wildcard or escalating RBAC; fault verbs only in "
          "namespaced Roles", checks_access.check_rbac_least_privilege),
    Check("chaos-opt-in", "the serving namespace, and every namespace with fault verbs, is "
          "labelled tfsverify.io/chaos=allowed", checks_access.check_chaos_opt_in),
)
CHECK_IDS = tuple(check.id for check in CHECKS)


def run_policy(objects: list[dict[str, Any]], only: Iterable[str] = CHECK_IDS) -> list[Finding]:
    """Every finding of the selected checks over ``objects``, in check order."""
    wanted = set(only)
    unknown = wanted - set(CHECK_IDS)
    if unknown:
        raise ValueError(f"unknown check ids: {sorted(unknown)}")
    inventory = Inventory(objects)
    return [finding for check in CHECKS if check.id in wanted
            for finding in _unique(check.run(inventory))]


def _unique(findings: Iterable[Finding]) -> Iterator[Finding]:
    seen: set[Finding] = set()
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            yield finding
