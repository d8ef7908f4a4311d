"""The supervisor runs pods of fake apps (no TensorFlow, no sidecar) like a kubelet would.

Each test starts a real supervisor process on its own pod address ranges and a temporary
state directory; every wait is bounded and every process started is checked gone at the end.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from tfsverify.errors import BadInput, TargetError, TargetNotRunning, TfsverifyError
from tfsverify.targets.local.control import ControlClient, read_status
from tfsverify.targets.local.spec import (
    ClusterSpec,
    Container,
    DeploymentSpec,
    DisruptionBudget,
    MeshPolicy,
    NodeSpec,
    PodTemplate,
    Probe,
    Resources,
    Taint,
    Volume,
)

FAKE_APP = Path(__file__).with_name("fake_app.py")
LAUNCH = (
    "import pickle, sys\n"
    "from pathlib import Path\n"
    "from tfsverify.targets.local.supervisor import run_supervisor\n"
    "sys.exit(run_supervisor(pickle.loads(Path(sys.argv[1]).read_bytes()), Path(sys.argv[2])))\n"
)
MI = 1024**2
GRPC, HTTP = 8500, 8501
_used_octets: set[int] = set()


# specs ---------------------------------------------------------------------------------
def fake_container(probe_path: str = "/ready", gpu: int = 0) -> Container:
    return Container(
        name="app", command=(sys.executable, str(FAKE_APP)),
        args=("--grpc-port", str(GRPC), "--http-port", str(HTTP)), env={},
        ports={"grpc": GRPC, "http": HTTP}, requests=Resources(100, 64 * MI, 0),
        limits=Resources(0, 0, gpu),
        startup=Probe(grpc_port=GRPC, period_s=0.2, timeout_s=1.0, failure_threshold=150),
        liveness=Probe(grpc_port=GRPC, period_s=1.0, timeout_s=1.0, failure_threshold=3),
        readiness=Probe(http_path=probe_path, http_port=HTTP, period_s=0.2, timeout_s=1.0,
                        failure_threshold=1),
        mounts={},
    )


def deployment(name: str, replicas: int, container: Container | None = None,
               budget: DisruptionBudget | None = None,
               node_selector: dict[str, str] | None = None) -> DeploymentSpec:
    labels = {"app": name}
    template = PodTemplate(
        labels=labels, annotations={}, service_account=name,
        containers=(container or fake_container(),), volumes=(),
        node_selector=node_selector or {}, tolerations=(), topology_spread=(),
        termination_grace_s=2.0, sidecar_injected=False,
    )
    return DeploymentSpec(
        name=name, namespace="tfserving", replicas=replicas, selector=labels,
        template=template, service_name=name,
        service_host=f"{name}.tfserving.svc.cluster.local", service_ports=(), budget=budget,
        mesh=MeshPolicy("STRICT", (), None, None, None, {}, {}), ignored=(),
    )


def node(name: str, gpu: int = 0, taints: tuple[Taint, ...] = ()) -> NodeSpec:
    return NodeSpec(name, {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": name},
                    taints, Resources(2000, 4096 * MI, gpu), max_pods=10)


# the daemon under test -----------------------------------------------------------------
def _fresh_cidrs() -> tuple[str, str]:
    octet = random.choice([k for k in range(20, 250) if k not in _used_octets])
    _used_octets.add(octet)
    return f"127.{octet}.1.0/24", f"127.{octet}.2.0/24"


class Daemon:
    """A supervisor process for one ClusterSpec, with bounded waits on its status."""

    def __init__(self, tmp: Path, spec: ClusterSpec, cidrs: tuple[str, str] | None = None) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.dir = tmp / "state"
        spec_path = tmp / "spec.pickle"
        spec_path.write_bytes(pickle.dumps(spec))
        self.pod_cidr, self.local_cidr = cidrs or _fresh_cidrs()
        self.pod_prefix = self.pod_cidr.rsplit(".", 2)[0] + ".1."
        env = {**os.environ, "TFSVERIFY_POD_CIDR": self.pod_cidr,
               "TFSVERIFY_POD_LOCAL_CIDR": self.local_cidr}
        self.log = tmp / "supervisor.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, str(spec_path), str(self.dir)], env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.seen_pids: set[int] = set()

    def status(self) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads((self.dir / "status.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}
        self.seen_pids |= {c["pid"] for p in doc["pods"] for c in p["containers"] if c["pid"]}
        return doc

    def wait_for(self, what: str, predicate: Callable[[dict[str, Any]], Any],
                 timeout_s: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            doc = self.status()
            result = predicate(doc) if doc else None
            if result:
                return result
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pods = [(p["name"], p["phase"], p["ready"], p["restarts"])
                        for p in doc.get("pods", [])]
                pytest.fail(f"waiting for {what}: {pods}; log: {self.log.read_text()[-1500:]}")
            time.sleep(0.1)

    def call(self, op: str, **arguments: Any) -> Any:
        return ControlClient(self.dir).call(op, **arguments)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("shutdown", timeout_s=5.0)
                self.proc.wait(timeout=15)
            except (TfsverifyError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        assert wait_gone(self.seen_pids), f"left behind: {alive_in_groups(self.seen_pids)}"


def alive_in_groups(pgids: set[int]) -> list[int]:
    """Processes (not zombies) whose process group is one of ``pgids``."""
    alive = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) in pgids and proc.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return alive


def wait_gone(pgids: set[int], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive_in_groups(pgids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def pods_of(doc: dict[str, Any], deployment_name: str) -> list[dict[str, Any]]:
    return [p for p in doc["pods"] if p["deployment"] == deployment_name]


def ready_pods(name: str, count: int) -> Callable[[dict[str, Any]], Any]:
    def check(doc: dict[str, Any]) -> list[dict[str, Any]] | None:
        ready = [p for p in pods_of(doc, name) if p["ready"]]
        live = [p for p in pods_of(doc, name) if p["phase"] != "Terminating"]
        return ready if len(ready) == count == len(live) else None
    return check


Starter = Callable[..., "Daemon"]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Starter]:
    """Start supervisors; each is shut down (and checked to leave nothing) at the end."""
    daemons: list[Daemon] = []

    def starter(spec: ClusterSpec, cidrs: tuple[str, str] | None = None) -> Daemon:
        daemons.append(Daemon(tmp_path / str(len(daemons)), spec, cidrs))
        return daemons[-1]

    yield starter
    for daemon in daemons:
        daemon.close()


def cluster(tmp: Path, nodes: tuple[NodeSpec, ...], *deployments: DeploymentSpec) -> ClusterSpec:
    return ClusterSpec(overlay=tmp, nodes=nodes, deployments=deployments, ignored=())


GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")
POD_NAME = re.compile(r"^web-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$")


# pods ------------------------------------------------------------------------------------
def test_pods_run_probe_restart_and_only_ready_pods_are_endpoints(
        tmp_path: Path, start: Starter) -> None:
    daemon = start(cluster(
        tmp_path, (node("node-a"), node("node-b"), node("gpu-node", gpu=1, taints=(GPU_TAINT,))),
        deployment("web", 2),
        deployment("unready", 1, fake_container(probe_path="/wrong")),
        deployment("gpu", 1, fake_container(gpu=1)),
        deployment("sick", 1, replace(fake_container(), liveness=Probe(
            http_path="/wrong", http_port=HTTP, period_s=0.2, failure_threshold=2))),
    ))
    web = daemon.wait_for("2 ready web pods", ready_pods("web", 2))
    doc = daemon.wait_for("the unready pod probed", lambda d: any(
        e["reason"] == "Unhealthy" and "statuscode: 404" in e["message"]
        for e in d["events"]) and d)

    # ready pods are the endpoints; the pod whose readiness probe fails never is
    assert doc["endpoints"] == sorted(p["address"] for p in doc["pods"] if p["ready"])
    assert {p["address"] for p in web} <= set(doc["endpoints"])
    assert sorted(p["node"] for p in web) == ["node-a", "node-b"]  # spread, off the GPU node
    for pod in web:
        assert POD_NAME.match(pod["name"]), pod["name"]
        assert pod["address"] == f"{pod['ip']}:{GRPC}" == pod["app_address"]
        assert pod["ip"].startswith(daemon.pod_prefix)
        socket.create_connection((pod["ip"], GRPC), timeout=2).close()
    [unready] = pods_of(doc, "unready")
    assert unready["phase"] == "Running" and not unready["ready"]
    assert unready["containers"][0]["state"] == "Running"
    assert unready["address"] not in doc["endpoints"]

    # a GPU pod with no GPU node it tolerates stays Pending with the scheduler's reason
    [gpu] = pods_of(doc, "gpu")
    assert (gpu["phase"], gpu["node"], gpu["address"]) == ("Pending", None, None)
    assert gpu["pending_reason"] == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, "
        "2 Insufficient nvidia.com/gpu.")
    assert any(e["reason"] == "FailedScheduling" for e in doc["events"])

    # kill -9 of a container: restarted in place (same IP), counted, ready again
    victim = web[0]
    old_pid = victim["containers"][0]["pid"]
    os.kill(old_pid, signal.SIGKILL)

    def restarted(d: dict[str, Any]) -> dict[str, Any] | None:
        pod = next((p for p in d["pods"] if p["name"] == victim["name"]), None)
        return pod if pod and pod["restarts"] == 1 and pod["ready"] else None

    again = daemon.wait_for("the killed container back", restarted)
    container = again["containers"][0]
    assert container["pid"] != old_pid and container["last_exit_code"] == 137
    assert again["ip"] == victim["ip"]
    assert any(e["reason"] == "BackOff" for e in daemon.status()["events"])

    # a failing liveness probe kills the container, which restarts
    daemon.wait_for("the sick pod restarted", lambda d: pods_of(d, "sick")[0]["restarts"] >= 1)
    assert any(e["reason"] == "Killing" and "failed liveness probe, will be restarted"
               in e["message"] for e in daemon.status()["events"])


def test_control_ops_kill_delete_and_reject_bad_requests(
        tmp_path: Path, start: Starter) -> None:
    web = deployment("web", 2, replace(fake_container(), env={"COLOUR": "blue"},
                                       mounts={"/config": "config", "/scratch": "scratch"}))
    volumes = (Volume("config", files={"app.conf": "x = 1\n"}), Volume("scratch", empty_dir=True))
    web = replace(web, template=replace(web.template, volumes=volumes))
    daemon = start(cluster(tmp_path, (node("node-a"), node("node-b")), web))
    first, second = daemon.wait_for("2 ready web pods", ready_pods("web", 2))
    assert daemon.call("ping")["pods"] == 2

    # what a container gets: its env, where to bind, its volumes as host directories
    pod_dir = daemon.dir / "pods" / first["name"]
    environ = dict(line.split("=", 1) for line in Path(
        f"/proc/{first['containers'][0]['pid']}/environ").read_text().split("\0") if "=" in line)
    assert environ["COLOUR"] == "blue" and environ["TFSVERIFY_TF_THREADS"] == "1"
    assert environ["TFSVERIFY_BIND_HOST"] == first["ip"]
    assert json.loads(environ["TFSVERIFY_MOUNTS"]) == {
        "/config": str(pod_dir / "volumes" / "config"),
        "/scratch": str(pod_dir / "volumes" / "scratch")}
    assert (pod_dir / "volumes" / "config" / "app.conf").read_text() == "x = 1\n"
    assert "fake_app: serving on" in (pod_dir / "app.log").read_text()

    assert daemon.call("kill_container", pod=first["name"], container="app",
                       signal="TERM") == [f"{first['name']}/app"]
    daemon.wait_for("a TERMed container restarted", lambda d: any(
        p["name"] == first["name"] and p["restarts"] == 1 and
        p["containers"][0]["last_exit_code"] == 143 for p in d["pods"]))

    assert daemon.call("delete_pods", names=[second["name"]], grace_s=0) == [second["name"]]
    after = daemon.call("status")
    assert second["name"] not in {p["name"] for p in after["pods"]}
    replaced = daemon.wait_for("a replacement pod", ready_pods("web", 2))
    assert second["name"] not in {p["name"] for p in replaced}

    with pytest.raises(BadInput, match="pod nope not found"):
        daemon.call("delete_pods", names=["nope"])
    with pytest.raises(BadInput, match="unknown op"):
        daemon.call("explode")
    with pytest.raises(BadInput, match="has no container"):
        daemon.call("kill_container", pod=first["name"], container="db", signal="KILL")
    with pytest.raises(BadInput, match="node nowhere not found"):
        daemon.call("cordon", node="nowhere")

    # a second supervisor for the same state directory refuses to start, touching nothing
    second = subprocess.run([sys.executable, "-c", LAUNCH, str(daemon.dir.parent / "spec.pickle"),
                             str(daemon.dir)], capture_output=True, text=True, timeout=30)
    assert second.returncode == 3 and "another supervisor runs" in second.stderr
    assert daemon.call("ping")["pods"] == 2


# nodes -----------------------------------------------------------------------------------
def test_drain_moves_pods_within_the_budget_and_a_blocking_budget_times_out(
        tmp_path: Path, start: Starter) -> None:
    soft = Taint("spare", "true", "PreferNoSchedule")  # n3 is the last choice for web pods
    web_pdb = DisruptionBudget("web", {"app": "web"}, None, 1)
    strict_pdb = DisruptionBudget("strict", {"app": "strict"}, 1, None)
    daemon = start(cluster(
        tmp_path, (node("n1"), node("n2"), NodeSpec(
            "n3", {"kubernetes.io/hostname": "n3"}, (soft,), Resources(2000, 4096 * MI, 0))),
        deployment("web", 3, budget=web_pdb),
        deployment("strict", 1, budget=strict_pdb,
                   node_selector={"kubernetes.io/hostname": "n3"}),
    ))
    web = daemon.wait_for("3 ready web pods", ready_pods("web", 3))
    daemon.wait_for("the strict pod ready", ready_pods("strict", 1))
    on_n1 = sorted(p["name"] for p in web if p["node"] == "n1")
    assert len(on_n1) == 2  # n1, n2, then n1 again (name order), n3 avoided

    # watch the number of ready web pods while the drain runs
    lowest = [3]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            doc = daemon.status()
            if doc:
                lowest[0] = min(lowest[0], sum(1 for p in pods_of(doc, "web") if p["ready"]))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        evicted = daemon.call("drain", node="n1", drain_timeout_s=60)
    finally:
        done.set()
        watcher.join(timeout=5)
    assert sorted(evicted) == on_n1
    assert lowest[0] >= 2  # maxUnavailable 1 of 3: never fewer than 2 ready
    doc = daemon.wait_for("3 ready web pods elsewhere", ready_pods("web", 3))
    assert all(p["node"] != "n1" for p in doc)
    status = daemon.status()
    assert {n["name"]: n["schedulable"] for n in status["nodes"]} == {
        "n1": False, "n2": True, "n3": True}
    assert sum(1 for e in status["events"] if e["reason"] == "Evicted") == 2

    # minAvailable = replicas: the eviction is refused until the drain times out
    began = time.monotonic()
    with pytest.raises(TargetError, match=r"drain of node n3 timed out.*disruption budget strict"):
        daemon.call("drain", node="n3", drain_timeout_s=2)
    assert time.monotonic() - began >= 1.0
    [strict] = daemon.wait_for("the strict pod still ready", ready_pods("strict", 1))
    assert strict["node"] == "n3"
    assert daemon.call("uncordon", node="n3") == ["n3"]
    assert {n["name"]: n["schedulable"] for n in daemon.status()["nodes"]}["n3"] is True


# start-up failures and shutdown ----------------------------------------------------------
def test_listen_address_in_use_is_a_startup_error(tmp_path: Path, start: Starter) -> None:
    cidrs = _fresh_cidrs()
    first_pod_ip = cidrs[0].rsplit(".", 1)[0] + ".1"
    with socket.socket() as squatter:
        squatter.bind((first_pod_ip, GRPC))
        squatter.listen()
        daemon = start(cluster(tmp_path, (node("node-a"),), deployment("web", 2)), cidrs)
        assert daemon.proc.wait(timeout=20) == 3
    error = json.loads((daemon.dir / "status.json").read_text())["startup_error"]
    assert re.fullmatch(rf"pod web-\S+: listen address {re.escape(first_pod_ip)}:{GRPC} is in use",
                        error), error
    assert not (daemon.dir / "control.sock").exists()
    assert not (daemon.dir / "supervisor.pid").exists()
    assert "startup failed" in daemon.log.read_text()
    with pytest.raises(TargetNotRunning, match=r"failed to start: pod .* is in use"):
        read_status(daemon.dir)


def test_a_command_that_cannot_run_here_is_a_startup_error(
        tmp_path: Path, start: Starter) -> None:
    foreign = replace(fake_container(), command=("/bin/foo",))
    daemon = start(cluster(tmp_path, (node("node-a"),), deployment("web", 1, foreign)))
    assert daemon.proc.wait(timeout=20) == 3
    assert daemon.status()["startup_error"] == (
        "container app: command /bin/foo cannot run on the local target")
    assert daemon.status()["pods"] == []


def test_shutdown_sigterm_and_kill_9_leave_no_process_behind(
        tmp_path: Path, start: Starter) -> None:
    for how in ("shutdown", "SIGTERM", "kill -9"):
        daemon = start(cluster(tmp_path, (node("node-a"),), deployment("web", 2)))
        daemon.wait_for("2 ready web pods", ready_pods("web", 2))
        pgids = set(daemon.seen_pids)
        assert len(alive_in_groups(pgids)) == 2
        if how == "shutdown":
            assert daemon.call("shutdown") is True
            assert daemon.proc.wait(timeout=15) == 0
            assert not (daemon.dir / "control.sock").exists()
            assert not (daemon.dir / "supervisor.pid").exists()
        elif how == "SIGTERM":
            daemon.proc.send_signal(signal.SIGTERM)
            assert daemon.proc.wait(timeout=15) == 0
            assert not (daemon.dir / "supervisor.pid").exists()
        else:
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait(timeout=5)
        assert wait_gone(pgids), f"{how}: left behind {alive_in_groups(pgids)}"


# with the mesh (needs the sidecar and the PKI of this package) -------------------------
@pytest.mark.e2e
def test_meshed_pods_serve_mtls_through_their_sidecars_and_apply_faults(
        tmp_path: Path, start: Starter) -> None:
    import grpc

    web = deployment("web", 2)
    web = replace(web, template=replace(web.template, sidecar_injected=True, annotations={
        "prometheus.io/port": str(HTTP), "prometheus.io/path": "/metrics"}))
    daemon = start(cluster(tmp_path, (node("node-a"), node("node-b")), web))
    pods = daemon.wait_for("2 ready meshed pods", ready_pods("web", 2))
    doc = daemon.status()
    pod = pods[0]
    local_ip = pod["app_address"].rsplit(":", 1)[0]
    assert pod["address"] == f"{pod['ip']}:{GRPC}" and pod["app_address"] != pod["address"]
    assert [c["name"] for c in pod["containers"]] == ["istio-proxy", "app"]
    sidecar = json.loads((daemon.dir / "pods" / pod["name"] / "sidecar.json").read_text())
    assert sidecar["listen"] == pod["address"]
    assert sidecar["upstream"] == pod["app_address"]
    assert sidecar["admin"] == f"{pod['ip']}:15000"
    assert sidecar["app_metrics_url"] == f"http://{local_ip}:{HTTP}/metrics"
    assert sidecar["mesh_config"] == str(daemon.dir / "mesh.json")
    tls = doc["tls"]
    assert tls["principal"] == "cluster.local/ns/tfsverify/sa/loadgen"
    assert tls["server_name"] == "web.tfserving.svc.cluster.local"

    credentials = grpc.ssl_channel_credentials(
        Path(tls["ca"]).read_bytes(), Path(tls["key"]).read_bytes(), Path(tls["cert"]).read_bytes())
    options = [("grpc.ssl_target_name_override", tls["server_name"])]
    with grpc.secure_channel(pod["address"], credentials, options=options) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        assert check(b"", timeout=5) == b"\x08\x01"
    with grpc.insecure_channel(pod["address"]) as channel, pytest.raises(grpc.RpcError):
        channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=5)

    fault = {"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 50.0}}}
    assert daemon.call("set_fault", fault=fault) == sorted(p["name"] for p in pods)
    assert json.loads((daemon.dir / "mesh.json").read_text())["fault"] == fault
    assert daemon.status()["mesh"] == {"version": 2, "mtls_mode": "STRICT", "fault": fault,
                                       "route_weights": {}}
    daemon.call("clear_fault")
    assert daemon.status()["mesh"] == {"version": 3, "mtls_mode": "STRICT", "fault": None,
                                       "route_weights": {}}

    daemon.call("kill_container", pod=pod["name"], container="istio-proxy", signal="KILL")
    daemon.wait_for("the pod out of the endpoints", lambda d: pod["address"] not in d["endpoints"])
    daemon.wait_for("the sidecar back", lambda d: any(
        p["name"] == pod["name"] and p["ready"] and p["containers"][0]["restarts"] == 1
        for p in d["pods"]))
