"""Availability checks: enough replicas, and a disruption budget that protects them and
still lets nodes drain."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from tfsverify.deploycheck.findings import Finding, ref
from tfsverify.deploycheck.inventory import (
    REPLICATED_KINDS,
    Inventory,
    as_list,
    as_map,
    name_of,
    namespace_of,
    pod_labels,
    replicas,
    selects,
)

MIN_REPLICAS = 3
CANARY_SUBSET = "canary"

WHY_REPLICAS = ("with fewer than three replicas one pod kill or node drain leaves a single "
                "server (or none) while the replacement loads the model")


def canary_workloads(inv: Inventory) -> list[dict[str, Any]]:
    """Workloads whose pods form a DestinationRule subset named ``canary``: a rollout
    track that carries weight only during a rollout, exempt from the replica floor."""
    subsets = []
    for rule in inv.of_kind("DestinationRule"):
        for subset in as_list(as_map(rule.get("spec")).get("subsets")):
            subset = as_map(subset)
            labels = as_map(subset.get("labels"))
            if subset.get("name") == CANARY_SUBSET and labels:
                subsets.append((namespace_of(rule), labels))
    return [w for w in inv.workloads(REPLICATED_KINDS)
            if any(ns == namespace_of(w) and selects({"matchLabels": labels}, pod_labels(w))
                   for ns, labels in subsets)]


def check_replicas_min(inv: Inventory) -> Iterator[Finding]:
    canaries = [id(w) for w in canary_workloads(inv)]
    for workload in inv.workloads(REPLICATED_KINDS):
        if id(workload) not in canaries and replicas(workload) < MIN_REPLICAS:
            yield Finding("replicas-min", ref(workload),
                          f"spec.replicas is {replicas(workload)}, needs >= {MIN_REPLICAS}",
                          WHY_REPLICAS)
    for scaler in inv.of_kind("HorizontalPodAutoscaler", "ScaledObject"):
        spec = as_map(scaler.get("spec"))
        field, default = (("minReplicas", 1) if scaler.get("kind") == "HorizontalPodAutoscaler"
                          else ("minReplicaCount", 0))
        floor = spec.get(field, default)
        if isinstance(floor, int) and floor < MIN_REPLICAS:
            yield Finding("replicas-min", ref(scaler),
                          f"spec.{field} is {floor}, needs >= {MIN_REPLICAS}",
                          f"the autoscaler may scale below the floor: {WHY_REPLICAS}")


def _budgets_for(inv: Inventory, workload: dict[str, Any]) -> list[dict[str, Any]]:
    labels = pod_labels(workload)
    return [pdb for pdb in inv.in_namespace(namespace_of(workload), "PodDisruptionBudget")
            if "selector" in as_map(pdb.get("spec"))
            and selects(as_map(as_map(pdb.get("spec")).get("selector")), labels)]


def check_pdb_present(inv: Inventory) -> Iterator[Finding]:
    for workload in inv.workloads(REPLICATED_KINDS):
        budgets = _budgets_for(inv, workload)
        if not budgets:
            yield Finding("pdb-present", ref(workload),
                          "no PodDisruptionBudget selects its pods",
                          "a node drain or cluster upgrade may evict every replica at once")
        elif len(budgets) > 1:
            names = ", ".join(name_of(pdb) for pdb in budgets)
            yield Finding("pdb-present", ref(workload),
                          f"{len(budgets)} PodDisruptionBudgets select its pods ({names})",
                          "the eviction API refuses to evict a pod with more than one budget, "
                          "so every drain of its nodes hangs")


def _scaled(value: Any, total: int) -> int | None:
    """An int-or-percent of ``total``, rounded up as the disruption controller does."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return math.ceil(int(value[:-1]) * total / 100)
    return None


def check_pdb_satisfiable(inv: Inventory) -> Iterator[Finding]:
    for pdb in inv.of_kind("PodDisruptionBudget"):
        spec = as_map(pdb.get("spec"))
        selector = as_map(spec.get("selector"))
        pods = sum(replicas(w) for w in inv.in_namespace(namespace_of(pdb), *REPLICATED_KINDS)
                   if "selector" in spec and selects(selector, pod_labels(w)))
        if pods == 0:
            yield Finding("pdb-satisfiable", ref(pdb), "selects no pods of the overlay",
                          "a budget that selects nothing protects nothing (a selector typo?)")
            continue
        if "maxUnavailable" in spec:
            allowed = _scaled(spec["maxUnavailable"], pods)
            setting = f"maxUnavailable {spec['maxUnavailable']}"
        else:
            healthy = _scaled(spec.get("minAvailable", 1), pods)
            allowed = None if healthy is None else pods - healthy
            setting = f"minAvailable {spec.get('minAvailable', 1)}"
        if allowed is not None and allowed < 1:
            yield Finding("pdb-satisfiable", ref(pdb),
                          f"{setting} with {pods} pods allows no voluntary disruption",
                          "every node drain blocks forever: chaos drains, cluster upgrades "
                          "and autoscaler scale-downs stall")
        policy = spec.get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
        if policy != "AlwaysAllow":
            yield Finding("pdb-satisfiable", ref(pdb),
                          f"unhealthyPodEvictionPolicy is {policy}, not AlwaysAllow",
                          "a pod stuck loading its model or crash-looping counts against the "
                          "budget and blocks drains; AlwaysAllow lets not-ready pods go")
