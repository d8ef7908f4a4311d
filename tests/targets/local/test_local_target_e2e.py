"""The local target end to end, through the CLI as a user drives it.

One `tfsverify up` of the reference overlay for the module (three real TensorFlow model
servers with their sidecars), then: golden answers through every pod's mTLS address,
each kind of refused caller, kills followed by restarts, and `down` leaving nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest

from tfsverify.serving.golden import load_golden
from tfsverify.serving.protos import prediction_service_pb2_grpc
from tfsverify.serving.requests import output_array, predict_request
from tfsverify.targets.local.pki import ensure_mesh_pki

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[3]
OVERLAY = REPO / "reference-deploy" / "overlays" / "local"
RESTART_WAIT_S = 90.0


def cli(env: dict[str, str], *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tfsverify.cli", *args],
        env=env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )


def target_env(state_dir: Path, block: int, overlay: Path = OVERLAY) -> dict[str, str]:
    """Environment for a target of our own: own state dir, own loopback block."""
    env = dict(os.environ)
    env.update({
        "TFSVERIFY_STATE_DIR": str(state_dir),
        "TFSVERIFY_OVERLAY": str(overlay),
        "TFSVERIFY_POD_CIDR": f"127.0.{block}.0/24",
        "TFSVERIFY_POD_LOCAL_CIDR": f"127.0.{block + 1}.0/24",
        "TFSVERIFY_UP_TIMEOUT_S": "240",
    })
    return env


def processes_of(state_dir: Path) -> list[psutil.Process]:
    """Every live process started for this target (found by the state dir in its command)."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            command = " ".join(process.info["cmdline"] or [])
            environ = process.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        mine = str(state_dir) in command or any(
            str(state_dir) in value for value in environ.values()
        )
        if mine and process.pid != os.getpid() and process.status() != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("local-target")
    env = target_env(state_dir, block=61)
    up = cli(env, "up")
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        yield {"env": env, "state_dir": state_dir}
    finally:
        cli(env, "down", timeout_s=60)
        for process in processes_of(state_dir):  # never leave one behind, even on failure
            process.kill()


def status(target: dict[str, Any]) -> dict[str, Any]:
    result = cli(target["env"], "status", "--json", timeout_s=60)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def predict(address: str, credentials: grpc.ChannelCredentials | None, server_name: str,
            rows: int = 8) -> Any:
    golden = load_golden(version=1)
    inputs = golden.batch(rows)[0]
    request = predict_request(golden.model_name, inputs, input_name=golden.input_name)
    options = [("grpc.ssl_target_name_override", server_name)]
    channel = (grpc.secure_channel(address, credentials, options=options) if credentials
               else grpc.insecure_channel(address))
    with channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=10)
    answered = golden.for_version(response.model_spec.version.value)  # the canary answers v2
    assert answered is not None, response.model_spec
    return answered, output_array(response, golden.output_name), answered.batch(rows)[1]


def credentials_for(ca: Path, cert: Path | None, key: Path | None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


def test_status_json_keeps_the_published_keys(target: dict[str, Any]) -> None:
    document = status(target)
    assert document["target"] == "local"
    assert len(document["pods"]) == 4  # three stable replicas and the canary
    for pod in document["pods"]:
        assert {"name", "node", "ready", "restarts", "address"} <= pod.keys()
        assert pod["ready"] is True and pod["address"].startswith("127.0.61.")
    gpu_nodes = {f"gpu-node-{x}" for x in "abcde"}
    assert {n["name"] for n in document["nodes"]} == {"node-a", "node-b", "node-c", *gpu_nodes}
    assert all({"name", "schedulable", "gpu"} <= n.keys() for n in document["nodes"])
    assert {"ca", "cert", "key", "server_name", "principal"} <= document["tls"].keys()
    assert document["tls"]["principal"] == "cluster.local/ns/tfsverify/sa/loadgen"
    assert document["model"] == {"name": "anomaly-detection",
                                 "versions": {"1": "AVAILABLE", "2": "AVAILABLE"}}
    assert document["mesh"]["route_weights"] == {"stable": 100, "canary": 0}
    # GPU pods only on GPU nodes, one per node (one GPU each)
    nodes = [p["node"] for p in document["pods"]]
    assert set(nodes) <= gpu_nodes and len(set(nodes)) == 4


def test_every_pod_answers_golden_scores_over_mtls(target: dict[str, Any]) -> None:
    tls = status(target)["tls"]
    credentials = credentials_for(Path(tls["ca"]), Path(tls["cert"]), Path(tls["key"]))
    for pod in status(target)["pods"]:
        golden, scores, expected = predict(pod["address"], credentials, tls["server_name"])
        assert golden.matches(scores, expected), (pod["name"], scores, expected)


def refused_code(target: dict[str, Any], credentials: grpc.ChannelCredentials | None) -> Any:
    document = status(target)
    address = document["pods"][0]["address"]
    with pytest.raises(grpc.RpcError) as caught:
        predict(address, credentials, document["tls"]["server_name"])
    return caught.value.code()


def test_plaintext_call_is_refused(target: dict[str, Any]) -> None:
    assert refused_code(target, None) == grpc.StatusCode.UNAVAILABLE


def test_call_without_client_certificate_is_refused(target: dict[str, Any]) -> None:
    ca = Path(status(target)["tls"]["ca"])
    assert refused_code(target, credentials_for(ca, None, None)) == grpc.StatusCode.UNAVAILABLE


def test_certificate_from_another_ca_is_refused(target: dict[str, Any]) -> None:
    pki = ensure_mesh_pki(target["state_dir"] / "pki")
    foreign = credentials_for(pki.ca_cert, pki.foreign_client_cert, pki.foreign_client_key)
    assert refused_code(target, foreign) == grpc.StatusCode.UNAVAILABLE


def test_unauthorised_principal_is_denied(target: dict[str, Any]) -> None:
    pki = ensure_mesh_pki(target["state_dir"] / "pki")
    intruder = credentials_for(pki.ca_cert, pki.intruder_cert, pki.intruder_key)
    assert refused_code(target, intruder) == grpc.StatusCode.PERMISSION_DENIED


def container_pid(document: dict[str, Any], pod_name: str, container: str) -> int:
    pod = next(p for p in document["pods"] if p["name"] == pod_name)
    return int(next(c["pid"] for c in pod["containers"] if c["name"] == container))


@pytest.mark.parametrize("container", ["tensorflow-serving", "istio-proxy"])
def test_kill_9_of_a_container_is_followed_by_a_restart(
    target: dict[str, Any], container: str
) -> None:
    before = status(target)
    pod = before["pods"][0]
    os.kill(container_pid(before, pod["name"], container), signal.SIGKILL)

    def restarted_and_ready() -> bool:
        now = next((p for p in status(target)["pods"] if p["name"] == pod["name"]), None)
        return bool(now and now["restarts"] > pod["restarts"] and now["ready"])

    wait_for(restarted_and_ready, RESTART_WAIT_S, f"{pod['name']}/{container} to restart")
    tls = status(target)["tls"]
    after = next(p for p in status(target)["pods"] if p["name"] == pod["name"])
    credentials = credentials_for(Path(tls["ca"]), Path(tls["cert"]), Path(tls["key"]))
    golden, scores, expected = predict(after["address"], credentials, tls["server_name"])
    assert golden.matches(scores, expected)


def test_down_leaves_no_process_behind(target: dict[str, Any]) -> None:
    assert processes_of(target["state_dir"]), "the target should be running before down"
    down = cli(target["env"], "down", timeout_s=60)
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not processes_of(target["state_dir"]), 10, "every process to exit")
    assert cli(target["env"], "status", "--json").returncode == 3


def test_replicas_changed_in_the_overlay_show_in_status(tmp_path: Path) -> None:
    """The local overlay is what runs: two replicas written into a copy give two pods."""
    import shutil

    reference = tmp_path / "reference-deploy"
    shutil.copytree(REPO / "reference-deploy", reference, ignore=shutil.ignore_patterns("model"))
    (reference / "model").symlink_to(REPO / "reference-deploy" / "model")
    deployment = reference / "base" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("replicas: 3", "replicas: 2", 1))
    env = target_env(tmp_path / "state", block=65, overlay=reference / "overlays" / "local")
    try:
        up = cli(env, "up")
        assert up.returncode == 0, up.stderr[-3000:]
        document = json.loads(cli(env, "status", "--json").stdout)
        stable = [p for p in document["pods"] if p["deployment"] == "anomaly-detection"]
        assert len(stable) == 2 and len(document["pods"]) == 3  # and the canary
        assert all(p["ready"] for p in document["pods"])
    finally:
        cli(env, "down", timeout_s=60)
        for process in processes_of(tmp_path / "state"):
            process.kill()
