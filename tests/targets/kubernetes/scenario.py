"""The reference deployment as objects of the fake cluster (read from reference-deploy/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fake_api import FakeCluster

BASE = Path(__file__).resolve().parents[3] / "reference-deploy" / "base"
NS = "tfserving"
NODES = ("worker", "worker2", "worker3")


def _manifest(relative: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((BASE / relative).read_text())
    document["metadata"]["namespace"] = NS
    return document


def _pod(index: int, node: str, native_sidecar: bool) -> dict[str, Any]:
    proxy = {"name": "istio-proxy", "image": "istio/proxyv2"}
    containers = [{"name": "tensorflow-serving", "image": "tensorflow/serving"}]
    init = [{"name": "fetch-model", "image": "model"}]
    if native_sidecar:
        init.append({**proxy, "restartPolicy": "Always"})
    else:
        containers.append(proxy)
    statuses = [{"name": c["name"], "restartCount": 0, "ready": True} for c in containers]
    init_statuses = [{"name": c["name"], "restartCount": 0} for c in init]
    return {
        "metadata": {"name": f"anomaly-detection-5f7c-{'abc'[index]}", "namespace": NS,
                     "labels": {"app": "anomaly-detection", "version": "v1"}},
        "spec": {"nodeName": node, "containers": containers, "initContainers": init,
                 "volumes": [{"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
                             {"name": "models", "emptyDir": {}}]},
        "status": {"phase": "Running", "podIP": f"10.244.{index}.7",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": statuses, "initContainerStatuses": init_statuses},
    }


def reference_cluster(ready_delay_s: float = 0.2, opted_in: bool = True) -> FakeCluster:
    """Three nodes, the serving namespace, Deployment (3 pods, one per node; the last with a
    native sidecar), Service, PDB and VirtualService of reference-deploy/base."""
    cluster = FakeCluster(ready_delay_s)
    namespace = yaml.safe_load((BASE / "namespace.yaml").read_text())
    if not opted_in:
        del namespace["metadata"]["labels"]["tfsverify.io/chaos"]
    cluster.put("namespaces", namespace)
    for i, node in enumerate(NODES):
        labels = {"kubernetes.io/hostname": node}
        cluster.put("nodes", {"metadata": {"name": node, "labels": labels},
                              "spec": {},
                              "status": {"allocatable": {"cpu": "4",
                                                         **({"nvidia.com/gpu": "1"} if i == 2
                                                            else {})}}})
    cluster.put("deployments", _manifest("deployment.yaml"))
    cluster.put("services", _manifest("service.yaml"))
    cluster.put("poddisruptionbudgets", _manifest("pdb.yaml"))
    cluster.put("virtualservices", _manifest("istio/virtual-service.yaml"))
    for i, node in enumerate(NODES):
        cluster.put("pods", _pod(i, node, native_sidecar=(i == 2)))
    return cluster
