"""How a pod of a deployment becomes processes on this machine.

- Names: ``<deployment>-<10-char template hash>-<5 random chars>``, as a ReplicaSet names them.
- Commands: ``tensorflow_model_server`` runs as ``python -m tfsverify.serving`` with the
  container's args; a command that starts with this interpreter or ``python`` runs as given;
  anything else cannot run here (:class:`TargetError`).
- Addresses: the pod IP (``127.0.1.N``) is where the pod is reached; its app containers bind
  the pod localhost (``127.0.2.N``) behind the ``istio-proxy`` sidecar, which listens on
  ``<pod IP>:<grpc port>`` with its admin on ``<pod IP>:15000``. Without a sidecar the app
  binds the pod IP and serves plaintext.
- Volumes: configMap files and emptyDirs live in ``<state>/pods/<pod>/volumes/<name>/``,
  hostPaths are used as they are; containers find them through ``TFSVERIFY_MOUNTS``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from tfsverify.errors import TargetError
from tfsverify.targets.local.spec import Container, DeploymentSpec, Probe
from tfsverify.targets.local.state import write_json_atomic

SIDECAR_NAME = "istio-proxy"
SIDECAR_ADMIN_PORT = 15000
LOCAL_COMMANDS: dict[str, tuple[str, ...]] = {
    "/usr/bin/tensorflow_model_server": (sys.executable, "-m", "tfsverify.serving"),
    "tensorflow_model_server": (sys.executable, "-m", "tfsverify.serving"),
}
# the alphabet Kubernetes uses for generated names (no vowels, no look-alikes)
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Istio's injected probes for istio-proxy, pointed at the admin port
_SIDECAR_STARTUP = Probe(http_path="/healthz/ready", http_port=SIDECAR_ADMIN_PORT,
                         period_s=1.0, timeout_s=3.0, failure_threshold=600)
_SIDECAR_READINESS = Probe(http_path="/healthz/ready", http_port=SIDECAR_ADMIN_PORT,
                           period_s=15.0, timeout_s=3.0, failure_threshold=4)


@dataclass(frozen=True)
class ContainerPlan:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    log_path: Path
    probe_host: str  # where probes connect
    startup: Probe | None
    liveness: Probe | None
    readiness: Probe | None
    pre_stop_sleep_s: float = 0.0
    sidecar: bool = False


@dataclass(frozen=True)
class PodPlan:
    containers: tuple[ContainerPlan, ...]  # the sidecar first
    listen: tuple[tuple[str, int], ...]  # every address the pod's processes will bind
    address: str | None  # where clients reach the pod
    app_address: str | None  # where the app's gRPC port is bound
    grace_s: float


@dataclass(frozen=True)
class WorkloadTls:
    ca: str
    cert: str
    key: str


def template_hash(deployment: DeploymentSpec) -> str:
    digest = hashlib.sha256(repr(deployment.template).encode()).digest()
    return "".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in digest[:10])


def pod_name(deployment: DeploymentSpec, rng: random.Random) -> str:
    suffix = "".join(rng.choice(_NAME_ALPHABET) for _ in range(5))
    return f"{deployment.name}-{template_hash(deployment)}-{suffix}"


def resolve_command(container: Container) -> tuple[str, ...]:
    """The argv that runs ``container`` here, or TargetError saying why it cannot run."""
    if not container.command:
        raise TargetError(f"container {container.name}: no command (image entrypoints cannot "
                          "run on the local target)")
    head, rest = container.command[0], container.command[1:]
    if head in LOCAL_COMMANDS:
        return (*LOCAL_COMMANDS[head], *rest, *container.args)
    if head in ("python", "python3"):
        return (sys.executable, *rest, *container.args)
    if head == sys.executable or Path(head).name.startswith("python"):
        return (*container.command, *container.args)
    raise TargetError(f"container {container.name}: command {head} cannot run on the local target")


def grpc_port(deployment: DeploymentSpec) -> int | None:
    """The container port named "grpc", else the first port declared."""
    containers = deployment.template.containers
    named = [c.ports["grpc"] for c in containers if "grpc" in c.ports]
    if named:
        return named[0]
    return next((port for c in containers for port in c.ports.values()), None)


def check_listen_free(pod: str, listen: tuple[tuple[str, int], ...]) -> None:
    """TargetError unless every address can be bound (as servers bind: SO_REUSEADDR)."""
    for host, port in listen:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc}"
                raise TargetError(f"pod {pod}: listen address {host}:{port} {why}") from exc


def _materialise_volumes(deployment: DeploymentSpec, pod_dir: Path,
                         overlay: Path) -> dict[str, str]:
    """Create the pod's volumes; return volume name -> host directory."""
    hosts: dict[str, str] = {}
    for volume in deployment.template.volumes:
        if volume.host_path is not None:
            path = volume.host_path
            hosts[volume.name] = str(path if path.is_absolute() else (overlay / path).resolve())
            continue
        directory = pod_dir / "volumes" / volume.name
        directory.mkdir(parents=True, exist_ok=True)
        for file_name, text in volume.files.items():
            (directory / file_name).write_text(text)
        hosts[volume.name] = str(directory)
    return hosts


def _app_plan(container: Container, name: str, pod_dir: Path, bind_host: str,
              volumes: dict[str, str]) -> ContainerPlan:
    try:
        mounts = {path: volumes[volume] for path, volume in container.mounts.items()}
    except KeyError as exc:
        raise TargetError(f"container {container.name}: mounts unknown volume {exc}") from exc
    env = {**os.environ, **container.env, "HOSTNAME": name, "PYTHONUNBUFFERED": "1",
           "TFSVERIFY_BIND_HOST": bind_host, "TFSVERIFY_MOUNTS": json.dumps(mounts),
           "TFSVERIFY_TF_THREADS": "1"}
    return ContainerPlan(
        name=container.name, argv=resolve_command(container), env=env,
        log_path=pod_dir / f"{container.name}.log", probe_host=bind_host,
        startup=container.startup, liveness=container.liveness, readiness=container.readiness,
        pre_stop_sleep_s=container.pre_stop_sleep_s,
    )


def _sidecar_config(deployment: DeploymentSpec, name: str, listen: str, upstream: str,
                    admin: str, local_ip: str, tls: WorkloadTls, mesh_path: Path) -> dict:
    annotations = deployment.template.annotations
    metrics_port = annotations.get("prometheus.io/port")
    metrics_url = None
    if metrics_port:
        metrics_path = annotations.get("prometheus.io/path", "/metrics")
        metrics_url = f"http://{local_ip}:{metrics_port}{metrics_path}"
    return {
        "pod": name, "namespace": deployment.namespace, "workload": deployment.name,
        "service_account": deployment.template.service_account,
        "listen": listen, "upstream": upstream, "admin": admin,
        "app_metrics_url": metrics_url,
        "tls": {"ca": tls.ca, "cert": tls.cert, "key": tls.key},
        "mesh_config": str(mesh_path),
    }


def plan_pod(deployment: DeploymentSpec, name: str, ip: str, local_ip: str, pod_dir: Path,
             overlay: Path, mesh_path: Path, tls: WorkloadTls | None) -> PodPlan:
    """Write the pod's volumes (and sidecar config); return how to run its containers."""
    template = deployment.template
    port = grpc_port(deployment)
    sidecar = template.sidecar_injected
    if sidecar and (port is None or tls is None):
        raise TargetError(f"deployment {deployment.name}: a sidecar needs a container port and "
                          "mesh certificates")
    pod_dir.mkdir(parents=True, exist_ok=True)
    bind_host = local_ip if sidecar else ip
    volumes = _materialise_volumes(deployment, pod_dir, overlay)
    apps = [_app_plan(c, name, pod_dir, bind_host, volumes) for c in template.containers]
    listen = [(bind_host, p) for c in template.containers for p in c.ports.values()]
    app_address = f"{bind_host}:{port}" if port is not None else None
    if not sidecar:
        return PodPlan(tuple(apps), tuple(listen), app_address, app_address,
                       template.termination_grace_s)
    assert port is not None and tls is not None
    listen_at, admin_at = f"{ip}:{port}", f"{ip}:{SIDECAR_ADMIN_PORT}"
    config = _sidecar_config(deployment, name, listen_at, f"{local_ip}:{port}", admin_at,
                             local_ip, tls, mesh_path)
    config_path = pod_dir / "sidecar.json"
    write_json_atomic(config_path, config)
    proxy = ContainerPlan(
        name=SIDECAR_NAME,
        argv=(sys.executable, "-m", "tfsverify.targets.local.sidecar", "--config",
              str(config_path)),
        env={**os.environ, "PYTHONUNBUFFERED": "1", "HOSTNAME": name},
        log_path=pod_dir / f"{SIDECAR_NAME}.log", probe_host=ip,
        startup=_SIDECAR_STARTUP, liveness=None, readiness=_SIDECAR_READINESS, sidecar=True,
    )
    listen += [(ip, port), (ip, SIDECAR_ADMIN_PORT)]
    return PodPlan((proxy, *apps), tuple(listen), listen_at, app_address,
                   template.termination_grace_s)
