"""The embedded local target: the reference deployment as processes on this machine.

`LocalTarget.up()` starts the supervisor (kubelet, ReplicaSet and scheduler in one small
daemon) detached from the caller and waits until every replica is ready; every other
method reads the supervisor's published status or asks it to act over its control socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput, TargetError, TargetNotRunning
from tfsverify.serving.config import ModelConfig, parse_model_config
from tfsverify.targets.base import (
    Endpoint,
    GrpcFault,
    ModelStatus,
    Node,
    Pod,
    RoutePolicy,
    SecurityCheck,
    TlsMaterial,
)
from tfsverify.targets.local import security
from tfsverify.targets.local.control import ControlClient, read_status
from tfsverify.targets.local.disruption import desired_healthy
from tfsverify.targets.local.fields import selects
from tfsverify.targets.local.manifests import read_cluster
from tfsverify.targets.local.model_status import query_model_status
from tfsverify.targets.local.quantities import parse_duration_s
from tfsverify.targets.local.spec import ClusterSpec, DeploymentSpec, MeshPolicy

_POLL_S = 0.25
_CRASH_RESTARTS = 3  # restarts before `up` gives up on a container that never gets ready


class LocalTarget:
    """Target protocol over the local supervisor kept in ``state_dir``."""

    name = "local"

    def __init__(self, state_dir: Path, overlay: Path, up_timeout_s: float = 180.0) -> None:
        self.state_dir = state_dir
        self.overlay = overlay
        self.up_timeout_s = up_timeout_s
        self._control = ControlClient(state_dir)
        self._model_name: str | None = None
        self._serving_spec: DeploymentSpec | None = None

    # lifecycle -------------------------------------------------------------------------
    def is_running(self) -> bool:
        try:
            read_status(self.state_dir)
        except TargetNotRunning:
            return False
        return True

    def read_cluster(self) -> ClusterSpec:
        """Render and check the overlay (raises ManifestError before anything starts)."""
        return read_cluster(self.overlay)

    def up(self) -> ClusterSpec:
        """Start the target unless it runs; return when every replica is ready."""
        cluster = self.read_cluster()
        _check_host_paths(cluster)
        if not self.is_running():
            self._start_supervisor()
        self._wait_ready(cluster)
        return cluster

    def _start_supervisor(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        stale = self.state_dir / "status.json"
        stale.unlink(missing_ok=True)
        log = (self.state_dir / "supervisor.log").open("ab")
        command = [
            sys.executable, "-m", "tfsverify.targets.local.supervisor",
            "--state-dir", str(self.state_dir), "--overlay", str(self.overlay),
        ]
        with log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, close_fds=True,
            )

    def _wait_ready(self, cluster: ClusterSpec) -> None:
        wanted = sum(d.replicas for d in cluster.deployments)
        deadline = time.monotonic() + self.up_timeout_s
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self._raw_status()
            if status.get("startup_error"):
                self._reap()
                raise TargetError(f"local target failed to start: {status['startup_error']}")
            process = getattr(self, "_process", None)
            if process is not None and process.poll() is not None:
                raise TargetError(f"local target failed to start: {self._last_log_line()}")
            crashing = _crash_looping(status)
            if crashing:
                pod, container, exit_code = crashing
                report = self._crash_report(pod, container)
                self.down()
                # exit code 2 is the model server's "bad input" (flags, config, model path)
                raise BadInput(report) if exit_code == 2 else TargetError(report)
            ready = [p for p in status.get("pods", []) if p.get("ready")]
            if len(ready) >= wanted:
                return
            time.sleep(_POLL_S)
        raise TargetError(
            f"not ready after {self.up_timeout_s:.0f} s: {_readiness_summary(status, wanted)}"
        )

    def _raw_status(self) -> dict[str, Any]:
        """status.json as written, also by a supervisor that has just failed."""
        try:
            document: dict[str, Any] = json.loads((self.state_dir / "status.json").read_text())
        except (OSError, ValueError):
            return {}
        return document

    def _crash_report(self, pod: str, container: str) -> str:
        log = self.state_dir / "pods" / pod / f"{container}.log"
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        said = lines[-1] if lines else "no output"
        return f"{pod}/{container} keeps crashing (CrashLoopBackOff): {said}"

    def _status_or_none(self) -> dict[str, Any] | None:
        try:
            return read_status(self.state_dir)
        except TargetNotRunning:
            return None

    def _last_log_line(self) -> str:
        log = self.state_dir / "supervisor.log"
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        return lines[-1] if lines else "the supervisor exited without a word"

    def _reap(self) -> None:
        process = getattr(self, "_process", None)
        if process is not None:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def down(self, timeout_s: float = 30.0) -> bool:
        """Stop every process of the target; False when nothing was running."""
        status = self._status_or_none()
        if status is None:
            return False
        pid = int(status["supervisor_pid"])
        with contextlib.suppress(TargetNotRunning):
            self._control.call("shutdown", timeout_s=timeout_s)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        return True

    # reads -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The published status (see `tfsverify status --json`)."""
        raw = read_status(self.state_dir)
        model = self.model_status_or_none()
        return {
            "target": self.name,
            "pods": raw["pods"],
            "nodes": raw["nodes"],
            "tls": raw["tls"],
            "model": (
                {"name": model.name, "versions": model.versions} if model else None
            ),
            "mesh": raw.get("mesh"),
            "state_dir": str(self.state_dir),
            "overlay": raw.get("overlay"),
            "events": raw.get("events", [])[-20:],
        }

    def pods(self) -> list[Pod]:
        """The serving Deployment's pods (not a canary track's), as on a cluster the
        Deployment's selector lists them; ``status`` shows every pod."""
        selector = self._serving().selector
        return [
            Pod(
                name=p["name"], node=p.get("node"), ready=bool(p["ready"]),
                restarts=int(p["restarts"]), address=p.get("address"),
                phase=p.get("phase", "Running"), labels=dict(p.get("labels", {})),
            )
            for p in read_status(self.state_dir)["pods"]
            if selects(selector, p.get("labels", {}))
        ]

    def nodes(self) -> list[Node]:
        return [
            Node(name=n["name"], schedulable=bool(n["schedulable"]), gpu=int(n["gpu"]),
                 labels=dict(n.get("labels", {})))
            for n in read_status(self.state_dir)["nodes"]
        ]

    def tls(self) -> TlsMaterial:
        t = read_status(self.state_dir)["tls"]
        return TlsMaterial(
            ca=Path(t["ca"]), cert=Path(t["cert"]), key=Path(t["key"]),
            server_name=t["server_name"], principal=t["principal"],
        )

    def endpoint(self) -> Endpoint:
        """Every ready pod's address, split by the route's current destination weights."""
        status = read_status(self.state_dir)
        ready = [p for p in status["pods"] if p.get("ready") and p.get("address")]
        mesh = self._serving().mesh
        weights = (status.get("mesh") or {}).get("route_weights") or {}
        split = tuple((int(weight), tuple(p["address"] for p in ready
                                          if _in_destination(mesh, subset, p.get("labels", {}))))
                      for subset, weight in weights.items())
        return Endpoint(addresses=tuple(p["address"] for p in ready), tls=self.tls(),
                        route=route_policy(mesh), split=split)

    def model_name(self) -> str:
        """The first model of the deployment's TF Serving model config file."""
        if self._model_name is None:
            for deployment in self.read_cluster().deployments:
                for model in _models(deployment):
                    self._model_name = model.name
                    return self._model_name
            raise TargetError(f"{self.overlay}: no models.config in any configMap volume")
        return self._model_name

    def model_status(self, name: str | None = None, version: int | None = None) -> ModelStatus:
        """The model's versions as the deployments serve them: one ready pod of each
        Deployment is asked (a canary track serves other versions than the stable one)."""
        status = read_status(self.state_dir)
        first_ready: dict[str, str] = {}
        for pod in status["pods"]:
            if pod.get("ready") and pod.get("address"):
                first_ready.setdefault(str(pod.get("deployment")), pod["address"])
        if not first_ready:
            raise TargetError("no ready pod to ask for the model status")
        model = name or self.model_name()
        versions: dict[int, str] = {}
        error: TargetError | None = None
        for address in first_ready.values():
            try:
                found = query_model_status(self.state_dir / "pki", address,
                                           status["tls"]["server_name"], model, version)
            except TargetError as exc:  # e.g. NOT_FOUND: this track does not serve `version`
                error = exc
                continue
            versions.update(found.versions)
        if not versions and error is not None:
            raise error
        return ModelStatus(name=model, versions=dict(sorted(versions.items())))

    def model_status_or_none(self) -> ModelStatus | None:
        try:
            return self.model_status()
        except TargetError:
            return None

    # faults ----------------------------------------------------------------------------
    def kill_pods(self, count: int, seed: int | None = None) -> list[str]:
        """Force-delete ``count`` running pods of the serving Deployment chosen without
        replacement (seeded)."""
        running = sorted(p.name for p in self.pods() if p.phase == "Running")
        if count > len(running):
            raise TargetError(f"asked to kill {count} pods but only {len(running)} are running")
        chosen = random.Random(seed).sample(running, count)
        self._control.call("delete_pods", names=chosen, grace_s=0)
        return chosen

    def kill_container(self, pod: str, container: str) -> list[str]:
        """SIGKILL one container of a pod (the kubelet restarts it)."""
        self._control.call("kill_container", pod=pod, container=container, signal="KILL")
        return [f"{pod}/{container}"]

    def kill_sidecar(self, pod: str) -> list[str]:
        return self.kill_container(pod, "istio-proxy")

    def cordon_node(self, name: str) -> list[str]:
        """Mark ``name`` unschedulable; nothing running on it is evicted."""
        self._control.call("cordon", node=name)
        return [name]

    def drain_node(self, name: str, timeout_s: float = 120.0) -> list[str]:
        result = self._control.call("drain", node=name, drain_timeout_s=timeout_s)
        return list(result or [])

    def uncordon_node(self, name: str) -> list[str]:
        self._control.call("uncordon", node=name)
        return [name]

    def inject_grpc_fault(self, fault: GrpcFault) -> list[str]:
        istio: dict[str, Any] = {}
        if fault.abort_status and fault.abort_pct > 0:
            istio["abort"] = {"grpcStatus": fault.abort_status,
                              "percentage": {"value": fault.abort_pct}}
        if fault.delay_ms > 0 and fault.delay_pct > 0:
            istio["delay"] = {"fixedDelay": f"{fault.delay_ms / 1000:g}s",
                              "percentage": {"value": fault.delay_pct}}
        return list(self._control.call("set_fault", fault=istio) or [])

    def rollout_model(self, version: int, weight_pct: int) -> list[str]:
        """Send ``weight_pct`` percent of the traffic to the route destination whose pods
        serve model ``version`` (the canary track) and the rest to the other one; 0 rolls
        back, 100 promotes. Returns the destinations whose weight changed."""
        if isinstance(weight_pct, bool) or not 0 <= weight_pct <= 100:
            raise BadInput(f"weight_pct={weight_pct!r}: a whole percentage from 0 to 100")
        subsets = self._serving().mesh.subsets
        deployments = self.read_cluster().deployments
        weights = (read_status(self.state_dir).get("mesh") or {}).get("route_weights") or {}
        tracks = {subset: _versions_served(deployments, subsets.get(subset, {}))
                  for subset in weights}
        rolled = [subset for subset, served in tracks.items() if version in served]
        others = [subset for subset in weights if subset not in rolled]
        if len(rolled) != 1 or len(others) != 1:
            shown = ", ".join(f"{s or '(service)'}: versions {sorted(v)}"
                              for s, v in tracks.items()) or "none"
            raise TargetError(f"cannot roll out version {version}: the route needs exactly "
                              f"two destinations, one serving it ({shown})")
        split = {rolled[0]: int(weight_pct), others[0]: 100 - int(weight_pct)}
        return list(self._control.call("set_route_weights", weights=split) or [])

    def clear_faults(self) -> list[str]:
        return list(self._control.call("clear_fault") or [])

    # disruption budget -----------------------------------------------------------------
    def _serving(self) -> DeploymentSpec:
        """The serving Deployment: the one whose pods the route sends the most weight to in
        the manifests (the stable track, not a canary), the first one without a route."""
        if self._serving_spec is None:
            deployments = self.read_cluster().deployments
            if not deployments:
                raise TargetError(f"{self.overlay}: no Deployment in the overlay")

            def weight(deployment: DeploymentSpec) -> int:
                mesh, labels = deployment.mesh, deployment.template.labels
                return sum(w for subset, w in mesh.route_weights.items()
                           if _in_destination(mesh, subset, labels))

            self._serving_spec = max(deployments, key=weight)  # first of the heaviest
        return self._serving_spec

    def desired_replicas(self) -> int:
        return self._serving().replicas

    def min_available(self) -> int:
        """Ready pods the PodDisruptionBudget requires (0 without a budget)."""
        serving = self._serving()
        return desired_healthy(serving.budget, serving.replicas) if serving.budget else 0

    # mesh security probes --------------------------------------------------------------
    def _caller(self) -> security.Caller:
        from tfsverify.serving.golden import load_golden

        status = read_status(self.state_dir)
        ready = [p.address for p in self.pods() if p.ready and p.address]  # the stable track
        if not ready:
            raise TargetError("no ready pod of the serving Deployment to probe the mesh "
                              "security of")
        return security.Caller(self.state_dir / "pki", ready[0], status["tls"]["server_name"],
                               load_golden())

    def plaintext_call_rejected(self) -> SecurityCheck:
        return security.plaintext_call_rejected(self._caller())

    def foreign_ca_rejected(self) -> SecurityCheck:
        return security.foreign_ca_rejected(self._caller())

    def unauthorised_principal_denied(self) -> SecurityCheck:
        return security.unauthorised_principal_denied(self._caller())

    def authorised_call_succeeds(self) -> SecurityCheck:
        return security.authorised_call_succeeds(self._caller())


def route_policy(mesh: MeshPolicy) -> RoutePolicy:
    """The route's retry policy as Istio programs the client's sidecar with it: no
    ``retries`` gives Istio's default (2 retries on connect-failure, refused-stream,
    unavailable, cancelled); ``attempts`` 0 or absent gives none; ``retryOn`` absent keeps the
    default conditions. Here the load client applies it, since it has no sidecar of its own."""
    retries = mesh.retries
    fault = bool(mesh.fault)
    if retries is None:
        return RoutePolicy(timeout_s=mesh.timeout_s, fault_on_route=fault)
    default = RoutePolicy()
    retry_on = str(retries.get("retryOn") or "")
    names = frozenset(n.strip() for n in retry_on.split(",") if n.strip()) or default.retry_on
    per_try = retries.get("perTryTimeout")
    backoff = retries.get("backoff")
    try:
        return RoutePolicy(
            attempts=int(retries.get("attempts") or 0), retry_on=names,
            per_try_timeout_s=parse_duration_s(per_try) if per_try is not None else None,
            timeout_s=mesh.timeout_s,
            backoff_base_s=(parse_duration_s(backoff) if backoff is not None
                            else default.backoff_base_s),
            fault_on_route=fault,
        )
    except (TypeError, ValueError) as exc:
        raise TargetError(f"VirtualService retries {retries!r}: {exc}") from exc


def _models(deployment: DeploymentSpec) -> Iterator[ModelConfig]:
    """The models of the TF Serving model config files (``*models.config``) it mounts."""
    for volume in deployment.template.volumes:
        for file_name, text in volume.files.items():
            if file_name.endswith("models.config"):
                yield from parse_model_config(text, file_name).models


def _versions_served(deployments: Iterable[DeploymentSpec], labels: dict[str, str]) -> set[int]:
    """The model versions the Deployments whose pods carry ``labels`` load (their
    models.config version policy: ``specific`` versions; others count as none)."""
    return {version for deployment in deployments if selects(labels, deployment.template.labels)
            for model in _models(deployment) if model.policy.kind == "specific"
            for version in model.policy.versions}


def _in_destination(mesh: MeshPolicy, subset: str, labels: dict[str, str]) -> bool:
    """Whether a pod labelled ``labels`` belongs to the route destination ``subset`` ("": the
    whole service; a subset the DestinationRule does not define has no endpoints)."""
    if not subset:
        return True
    return subset in mesh.subsets and selects(mesh.subsets[subset], labels)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _crash_looping(status: dict[str, Any]) -> tuple[str, str, int | None] | None:
    """The first (pod, container, last exit code) restarted _CRASH_RESTARTS times, never ready."""
    for pod in status.get("pods", []):
        for container in pod.get("containers", []):
            if container.get("restarts", 0) >= _CRASH_RESTARTS and not container.get("ready"):
                return pod["name"], container["name"], container.get("last_exit_code")
    return None


def _check_host_paths(cluster: ClusterSpec) -> None:
    """A hostPath volume must exist, as the kubelet refuses to mount one that does not."""
    for deployment in cluster.deployments:
        for volume in deployment.template.volumes:
            if volume.host_path is not None and not volume.host_path.exists():
                raise BadInput(
                    f"Deployment/{deployment.name}: volume {volume.name}: hostPath "
                    f"{volume.host_path} does not exist"
                )


def _readiness_summary(status: dict[str, Any], wanted: int) -> str:
    pods = status.get("pods", [])
    ready = sum(1 for p in pods if p.get("ready"))
    reasons = sorted({p["pending_reason"] for p in pods if p.get("pending_reason")})
    detail = f"; {reasons[0]}" if reasons else ""
    return f"{ready}/{wanted} replicas ready{detail}"
