"""The files around the manifests agree with them: the Grafana dashboard, the kind cluster,
the bootstrap's image names, the canary copy of the Deployment."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import yaml

REFERENCE = Path(__file__).resolve().parents[2] / "reference-deploy"
DASHBOARD = REFERENCE / "components" / "monitoring" / "dashboards" / "tfserving-istio.json"
Objects = list[dict[str, Any]]


def deployment(objects: Objects, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name]
    return found


def test_the_dashboard_has_tf_serving_and_istio_panels_on_a_chosen_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    expressions = [t["expr"] for p in panels for t in p["targets"]]
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
    assert all(expr.count("(") == expr.count(")") for expr in expressions)
    assert any(":tensorflow:serving:request_latency_bucket" in e for e in expressions)
    assert any("istio_requests_total" in e and "grpc_response_status" in e for e in expressions)
    assert any('connection_security_policy="mutual_tls"' in e for e in expressions)
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    used = set(re.findall(r"\$(\w+)", " ".join(expressions)))
    assert used <= variables


def test_the_dashboard_ships_as_a_grafana_sidecar_configmap(rendered: dict[str, Objects]) -> None:
    (configmap,) = [o for o in rendered["kind"] if o["kind"] == "ConfigMap"
                    and o["metadata"]["name"] == "anomaly-detection-dashboard"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(configmap["data"]["tfserving-istio.json"])
    assert shipped == json.loads(DASHBOARD.read_text())


def test_the_kind_cluster_has_three_cpu_workers_and_tainted_gpu_workers() -> None:
    cluster = yaml.safe_load((REFERENCE / "kind" / "cluster.yaml").read_text())
    workers = [n for n in cluster["nodes"] if n["role"] == "worker"]
    cpu = [n for n in workers if n["labels"]["pool"] == "cpu"]
    gpu = [n for n in workers if n["labels"]["pool"] == "gpu"]
    assert len(cpu) == 3 and len(gpu) >= 2
    placement = yaml.safe_load((REFERENCE / "components" / "gpu" / "placement.yaml").read_text())
    pod = placement["spec"]["template"]["spec"]
    for node in gpu:
        assert all(node["labels"].get(k) == v for k, v in pod["nodeSelector"].items())
        taint = "".join(node["kubeadmConfigPatches"])
        assert f'register-with-taints: "{pod["tolerations"][0]["key"]}=present:NoSchedule"' in taint


def test_the_bootstrap_loads_the_images_the_manifests_name(rendered: dict[str, Objects]) -> None:
    script = (REFERENCE / "scripts" / "bootstrap.sh").read_text()
    spec = deployment(rendered["kind"], "anomaly-detection")["spec"]["template"]["spec"]
    assert f'MODEL_IMAGE="{spec["initContainers"][0]["image"]}"' in script
    assert f'SERVING_IMAGE="{spec["containers"][0]["image"]}"' in script
    assert spec["initContainers"][0]["imagePullPolicy"] == "Never"


def test_the_canary_deployment_differs_from_the_stable_one_only_where_it_must(
        rendered: dict[str, Objects]) -> None:
    stable = copy.deepcopy(deployment(rendered["kind"], "anomaly-detection"))
    canary = copy.deepcopy(deployment(rendered["kind"], "anomaly-detection-canary"))
    assert canary["spec"]["replicas"] == 1
    assert canary["spec"]["template"]["metadata"]["labels"]["version"] == "v2"
    for obj in (stable, canary):
        obj["metadata"]["name"] = "x"
        obj["spec"]["replicas"] = 0
        for labels in (obj["metadata"]["labels"], obj["spec"]["selector"]["matchLabels"],
                       obj["spec"]["template"]["metadata"]["labels"]):
            labels["version"] = "v"
        volume = obj["spec"]["template"]["spec"]["volumes"][0]
        assert volume["name"] == "config"
        volume["configMap"]["name"] = "config"
    assert canary == stable
