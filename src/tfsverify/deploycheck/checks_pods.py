"""Pod checks: probes that answer, non-root, resources, GPU placement, draining, model store."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

from tfsverify.deploycheck.findings import Finding, ref
from tfsverify.deploycheck.inventory import (
    Container,
    Inventory,
    as_list,
    as_map,
    namespace_of,
)

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
GRPC_HEALTH_FLAG = "enable_grpc_healthcheck_service"
GRPC_HEALTH_SERVICES = ("", "PredictionService", "ModelService")
GPU = "nvidia.com/gpu"
GPU_TAINT_KEY = "nvidia.com/gpu"
BASE_PATH = re.compile(r"""base_path\s*:\s*['"]([^'"]+)['"]""")


def _probe_problems(container: Container, kind: str, probe: dict[str, Any]) -> Iterator[str]:
    ports = container.ports()
    for handler in ("httpGet", "tcpSocket", "grpc"):
        action = as_map(probe.get(handler))
        if not action:
            continue
        port = action.get("port")
        if isinstance(port, str) and port not in ports:
            yield f"{kind} uses port name {port!r}, which the container does not declare"
            continue
        number = ports.get(port) if isinstance(port, str) else port
        if number not in ports.values():
            yield (f"{kind} probes port {port}, which the container does not declare "
                   f"(declared: {sorted(ports.values())})")
            continue
        if not container.is_tf_serving:
            continue
        grpc_port = int(container.flag("port") or 8500)
        rest_port = int(container.flag("rest_api_port") or 8501)
        if handler == "grpc":
            if container.flag(GRPC_HEALTH_FLAG) not in ("true", "1"):
                yield (f"{kind} is a gRPC probe but TF Serving runs without "
                       f"--{GRPC_HEALTH_FLAG}=true, so it has no grpc.health.v1 service")
            elif number != grpc_port:
                yield f"{kind} is a gRPC probe on {number}, TF Serving's gRPC port is {grpc_port}"
            elif str(action.get("service") or "") not in GRPC_HEALTH_SERVICES:
                yield (f"{kind} asks for health service {action.get('service')!r}; TF Serving "
                       "registers only PredictionService and ModelService")
        elif handler == "httpGet" and number != rest_port:
            yield f"{kind} is an HTTP probe on {number}, TF Serving's REST port is {rest_port}"


def check_probe_ports(inv: Inventory) -> Iterator[Finding]:
    for container in inv.containers(include_init=False):
        for kind in PROBES:
            probe = as_map(container.spec.get(kind))
            for problem in _probe_problems(container, kind, probe) if probe else ():
                yield Finding("probe-ports", ref(container.workload),
                              f"{container.where}: {problem}",
                              "a probe on a port that does not answer fails forever: the pod "
                              "never becomes ready, or the kubelet restarts it in a loop")


def check_readiness_model(inv: Inventory) -> Iterator[Finding]:
    for container in inv.containers(include_init=False):
        if not container.is_tf_serving:
            continue
        path = str(as_map(as_map(container.spec.get("readinessProbe")).get("httpGet"))
                   .get("path") or "")
        if not (path.startswith("/v1/models/") and path.endswith("/metadata")):
            yield Finding("readiness-model", ref(container.workload),
                          f"{container.where}: readinessProbe is not an HTTP GET of "
                          "/v1/models/<name>/metadata",
                          "only the metadata call fails until the servable is AVAILABLE; gRPC "
                          "health and /v1/models/<name> answer while the model is not loaded")


def _effective(container: Container, key: str) -> Any:
    own = as_map(container.spec.get("securityContext"))
    return own[key] if key in own else as_map(container.pod.get("securityContext")).get(key)


def check_non_root(inv: Inventory) -> Iterator[Finding]:
    why = ("a process that is root in its container is one kernel or runtime bug away from "
           "the node; the TF Serving image has no USER, so it runs as root unless told")
    for container in inv.containers():
        context = as_map(container.spec.get("securityContext"))
        problems = []
        if _effective(container, "runAsNonRoot") is not True:
            problems.append("runAsNonRoot is not true")
        user = _effective(container, "runAsUser")
        if not isinstance(user, int) or user == 0:
            problems.append(f"runAsUser is {user!r}, needs an explicit non-zero UID")
        if context.get("privileged") is True:
            problems.append("privileged is true")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation is not false")
        if "ALL" not in as_list(as_map(context.get("capabilities")).get("drop")):
            problems.append("capabilities.drop does not include ALL")
        if problems:
            yield Finding("non-root", ref(container.workload),
                          f"{container.where}: {'; '.join(problems)}", why)


def check_resources_set(inv: Inventory) -> Iterator[Finding]:
    for container in inv.containers():
        resources = as_map(container.spec.get("resources"))
        requests, limits = as_map(resources.get("requests")), as_map(resources.get("limits"))
        missing = [f"requests.{key}" for key in ("cpu", "memory") if key not in requests]
        missing += ["limits.memory"] if "memory" not in limits else []
        if missing:
            yield Finding("resources-set", ref(container.workload),
                          f"{container.where}: {', '.join(missing)} not set",
                          "without requests the scheduler packs pods blindly and they are "
                          "evicted first under pressure; without a memory limit one leaking "
                          "server takes the node's memory")
        if GPU in requests and requests.get(GPU) != limits.get(GPU):
            yield Finding("resources-set", ref(container.workload),
                          f"{container.where}: {GPU} requested as {requests.get(GPU)!r} but "
                          f"limited to {limits.get(GPU)!r}",
                          "extended resources must be set in limits (requests default to "
                          "them); the API server rejects differing values")


def _selects_gpu_nodes(pod: dict[str, Any]) -> bool:
    if any(GPU in str(key) for key in as_map(pod.get("nodeSelector"))):
        return True
    required = as_map(as_map(as_map(pod.get("affinity")).get("nodeAffinity"))
                      .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return any(GPU in str(as_map(expr).get("key"))
               for term in as_list(required.get("nodeSelectorTerms"))
               for expr in as_list(as_map(term).get("matchExpressions")))


def _tolerates_gpu_taint(pod: dict[str, Any]) -> bool:
    for toleration in as_list(pod.get("tolerations")):
        toleration = as_map(toleration)
        key_ok = toleration.get("key") == GPU_TAINT_KEY or (
            toleration.get("key") in (None, "") and toleration.get("operator") == "Exists")
        if key_ok and toleration.get("effect") in (None, "", "NoSchedule"):
            return True
    return False


def check_gpu_placement(inv: Inventory) -> Iterator[Finding]:
    for workload in inv.workloads():
        containers = [c for c in inv.containers() if c.workload is workload]
        gpu = [c for c in containers if GPU in as_map(as_map(c.spec.get("resources"))
                                                     .get("limits"))]
        for container in containers:
            image = str(container.spec.get("image") or "")
            if container not in gpu and re.search(r":[^/]*gpu", image):
                yield Finding("gpu-placement", ref(workload),
                              f"{container.where}: GPU image {image} without a {GPU} limit",
                              "the device plugin shows every GPU of the node to a container "
                              "that requests none: it competes with the pods that own them")
        if not gpu:
            continue
        pod = gpu[0].pod
        if not _tolerates_gpu_taint(pod):
            yield Finding("gpu-placement", ref(workload),
                          f"requests {GPU} but does not tolerate the {GPU_TAINT_KEY} "
                          "NoSchedule taint",
                          "GPU nodes are tainted to keep other pods off: the pods stay Pending")
        if not _selects_gpu_nodes(pod):
            yield Finding("gpu-placement", ref(workload),
                          f"requests {GPU} but selects no GPU nodes (nodeSelector or required "
                          f"node affinity on an {GPU}* label)",
                          "placement then rests on capacity alone: a drain or a new node pool "
                          "can leave the pods Pending with no node class to go to")


def check_prestop_drain(inv: Inventory) -> Iterator[Finding]:
    for container in inv.containers(include_init=False):
        if not container.is_tf_serving:
            continue
        pre_stop = as_map(as_map(container.spec.get("lifecycle")).get("preStop"))
        grace = container.pod.get("terminationGracePeriodSeconds", 30)
        sleep_s = as_map(pre_stop.get("sleep")).get("seconds")
        if not pre_stop:
            problem = "no lifecycle.preStop hook"
        elif isinstance(sleep_s, int) and isinstance(grace, int) and grace <= sleep_s:
            problem = (f"terminationGracePeriodSeconds {grace} does not outlast the "
                       f"preStop sleep of {sleep_s} s")
        else:
            continue
        yield Finding("prestop-drain", ref(container.workload), f"{container.where}: {problem}",
                      "TF Serving ignores SIGTERM (tensorflow/serving#1853): without a pause "
                      "before the kill, clients still route to a server that is gone")


def _volume_at(container: Container, path: str) -> dict[str, Any]:
    """The volume that holds ``path`` in the container (its deepest mount above it)."""
    volumes = {str(as_map(v).get("name")): as_map(v) for v in as_list(container.pod.get("volumes"))}
    mounts = {str(as_map(m).get("mountPath")): str(as_map(m).get("name"))
              for m in as_list(container.spec.get("volumeMounts"))}
    best = max((m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")),
               key=len, default=None)
    return volumes.get(mounts[best], {}) if best else {}


def check_model_store(inv: Inventory) -> Iterator[Finding]:
    for container in inv.containers(include_init=False):
        if not container.is_tf_serving:
            continue
        paths = [container.flag("model_base_path") or ""]
        config_file = container.flag("model_config_file")
        if config_file:
            source = as_map(_volume_at(container, config_file).get("configMap")).get("name")
            configmap = inv.configmap(namespace_of(container.workload), str(source))
            text = str(as_map(as_map(configmap).get("data")).get(posixpath.basename(config_file),
                                                                 ""))
            paths += BASE_PATH.findall(text)
        for path in filter(None, paths):
            store = _volume_at(container, path)
            if "configMap" in store:
                yield Finding("model-store", ref(container.workload),
                              f"{container.where}: the model at {path} is on ConfigMap "
                              f"volume {store.get('name')!r}",
                              "a ConfigMap stops at 1 MiB and cannot hold a SavedModel's "
                              "directory tree; use an init container, a PVC or an image")
