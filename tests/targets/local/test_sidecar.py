"""The sidecar as a real process: a fake app behind it, grpc clients with the mesh's PKI."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tfsverify.targets.local.pki import MeshPki, ensure_mesh_pki, issue_workload_cert

SERVER_NAME = "anomaly-detection.tfserving.svc.cluster.local"
LOADGEN = "cluster.local/ns/tfsverify/sa/loadgen"
ALLOW_LOADGEN = {"name": "allow-loadgen", "action": "ALLOW",
                 "rules": [{"from": [{"source": {"principals": [LOADGEN]}}]}]}
ECHO = "/test.Echo/Echo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# the fake app --------------------------------------------------------------------------


@dataclass
class FakeApp:
    """A generic gRPC server that echoes, fails on demand, or sleeps; counts its calls."""

    calls: int = 0
    last_metadata: dict[str, str] = field(default_factory=dict)
    last_remaining_s: float | None = None

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method

        def behaviour(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.calls += 1
            self.last_metadata = dict(context.invocation_metadata())
            self.last_remaining_s = context.time_remaining()
            if method == "/test.Echo/Fail":
                context.abort(grpc.StatusCode[request.decode()], "app says no")
            if method == "/test.Echo/Slow":
                time.sleep(float(request.decode()))
            return request

        return grpc.unary_unary_rpc_method_handler(behaviour)


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, app: FakeApp) -> None:
        self.app = app

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return self.app.service(details)


class _AppMetrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"# TYPE fake_app_metric counter\nfake_app_metric_total 7\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MeshPki:
    return ensure_mesh_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[FakeApp, int, str]]:
    fake = FakeApp()
    server = grpc.server(futures.ThreadPoolExecutor(4), handlers=[_Handler(fake)],
                         options=[("grpc.so_reuseport", 0),
                                  ("grpc.max_receive_message_length", -1)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    metrics = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AppMetrics)
    thread = threading.Thread(target=metrics.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{metrics.server_address[1]}/metrics"
    yield fake, port, url
    metrics.shutdown()
    metrics.server_close()
    server.stop(0).wait(5)


# sidecar processes ---------------------------------------------------------------------


@dataclass
class SidecarProc:
    proc: subprocess.Popen[bytes]
    directory: Path
    listen: str
    admin: str
    version: int = 1

    def http(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://{self.admin}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def config_dump(self) -> dict[str, Any]:
        return dict(json.loads(self.http("/config_dump")[1]))

    def apply(self, mtls: str = "STRICT", authorization: list[dict[str, Any]] | None = None,
              fault: dict[str, Any] | None = None) -> None:
        """Push a mesh config and wait until the sidecar has applied it."""
        self.version += 1
        write_mesh(self.directory / "mesh.json", self.version, mtls,
                   [ALLOW_LOADGEN] if authorization is None else authorization, fault)
        wait_for(lambda: self.config_dump()["version"] == self.version
                 and self.http("/healthz/ready")[0] == 200, f"mesh config v{self.version}")

    def requests_total(self, **labels: str) -> float:
        text = self.http("/stats/prometheus")[1].decode()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "istio_requests_total" and labels.items() <= s.labels.items():
                    total += s.value
        return total

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode)


def write_mesh(path: Path, version: int, mtls: str, authorization: list[dict[str, Any]],
               fault: dict[str, Any] | None) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": version, "mtls_mode": mtls,
                               "authorization": authorization, "fault": fault}))
    os.replace(tmp, path)


def wait_for(predicate: Any, what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def launch(directory: Path, pki: MeshPki, upstream_port: int, metrics_url: str | None,
           listen_port: int | None = None, seed: int = 7) -> SidecarProc:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = issue_workload_cert(pki, "tfserving", "anomaly-detection", [SERVER_NAME])
    listen, admin = f"127.0.0.1:{listen_port or free_port()}", f"127.0.0.1:{free_port()}"
    write_mesh(directory / "mesh.json", 1, "STRICT", [ALLOW_LOADGEN], None)
    (directory / "sidecar.json").write_text(json.dumps({
        "pod": "anomaly-detection-0", "namespace": "tfserving", "workload": "anomaly-detection",
        "service_account": "anomaly-detection", "listen": listen,
        "upstream": f"127.0.0.1:{upstream_port}", "admin": admin,
        "app_metrics_url": metrics_url, "mesh_config": "mesh.json", "seed": seed,
        "tls": {"ca": str(pki.ca_cert), "cert": str(cert), "key": str(key)}}))
    with open(directory / "stderr.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tfsverify.targets.local.sidecar", "--config",
             str(directory / "sidecar.json")], stdin=subprocess.DEVNULL, stderr=log)
    return SidecarProc(proc, directory, listen, admin)


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory, pki: MeshPki,
            app: tuple[FakeApp, int, str]) -> Iterator[SidecarProc]:
    proc = launch(tmp_path_factory.mktemp("sidecar"), pki, app[1], app[2])
    try:
        wait_for(lambda: proc.proc.poll() is None and proc.http("/healthz/ready")[0] == 200,
                 "sidecar ready")
        yield proc
    finally:
        rc = proc.stop()
    assert rc == 0, "the sidecar exits 0 on SIGTERM"


# clients -------------------------------------------------------------------------------


def call(sidecar: SidecarProc, pki: MeshPki, identity: str = "loadgen", method: str = ECHO,
         request: bytes = b"ping", timeout_s: float = 5.0) -> bytes:
    """One call through the sidecar as ``identity``: loadgen, intruder, foreign, nocert, plain."""
    options: list[tuple[str, Any]] = [("grpc.use_local_subchannel_pool", 1),
                                      ("grpc.max_receive_message_length", -1)]
    if identity == "plain":
        channel = grpc.insecure_channel(sidecar.listen, options=options)
    else:
        pairs = {"loadgen": (pki.client_key, pki.client_cert),
                 "intruder": (pki.intruder_key, pki.intruder_cert),
                 "foreign": (pki.foreign_client_key, pki.foreign_client_cert)}
        key, cert = (p.read_bytes() for p in pairs[identity]) if identity in pairs else (None, None)
        creds = grpc.ssl_channel_credentials(pki.ca_cert.read_bytes(), key, cert)
        options.append(("grpc.ssl_target_name_override", SERVER_NAME))
        channel = grpc.secure_channel(sidecar.listen, creds, options=options)
    with channel:
        return bytes(channel.unary_unary(method)(request, timeout=timeout_s))


def status_of(*args: Any, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
    try:
        call(*args, **kwargs)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


# mTLS and identity ---------------------------------------------------------------------


def test_authorised_call_is_forwarded_with_its_identity(sidecar, pki, app) -> None:
    sidecar.apply()
    assert call(sidecar, pki, request=b"hello") == b"hello"
    xfcc = app[0].last_metadata["x-forwarded-client-cert"]
    assert xfcc.endswith(f";URI=spiffe://{LOADGEN}")
    assert xfcc.startswith("By=spiffe://cluster.local/ns/tfserving/sa/anomaly-detection")


@pytest.mark.parametrize("identity", ["plain", "nocert", "foreign"])
def test_strict_rejects_the_handshake(sidecar, pki, app, identity) -> None:
    sidecar.apply("STRICT", authorization=[])  # no policy: only the transport can refuse
    before = app[0].calls
    assert status_of(sidecar, pki, identity)[0] == grpc.StatusCode.UNAVAILABLE
    assert app[0].calls == before


def test_unauthorised_principal_is_denied_without_reaching_the_app(sidecar, pki, app) -> None:
    sidecar.apply()
    before = app[0].calls
    assert status_of(sidecar, pki, "intruder") == (grpc.StatusCode.PERMISSION_DENIED,
                                                  "RBAC: access denied")
    assert app[0].calls == before


def test_permissive_accepts_plaintext_but_a_principal_allow_still_denies_it(sidecar, pki):
    sidecar.apply("PERMISSIVE")
    assert status_of(sidecar, pki, "plain")[0] == grpc.StatusCode.PERMISSION_DENIED
    assert call(sidecar, pki, "loadgen") == b"ping"
    assert status_of(sidecar, pki, "foreign")[0] == grpc.StatusCode.UNAVAILABLE
    sidecar.apply("PERMISSIVE", authorization=[])
    assert call(sidecar, pki, "plain") == b"ping"


def test_mode_change_rebinds_the_listener(sidecar, pki) -> None:
    sidecar.apply("DISABLE", authorization=[])
    assert call(sidecar, pki, "plain") == b"ping"
    assert status_of(sidecar, pki, "loadgen")[0] == grpc.StatusCode.UNAVAILABLE
    sidecar.apply("STRICT", authorization=[])
    assert status_of(sidecar, pki, "plain")[0] == grpc.StatusCode.UNAVAILABLE
    assert call(sidecar, pki, "loadgen") == b"ping"


def test_deny_policy_wins_over_allow(sidecar, pki) -> None:
    deny = {"name": "deny-admin", "action": "DENY",
            "rules": [{"to": [{"operation": {"paths": ["/test.Admin/*"]}}]}]}
    sidecar.apply(authorization=[ALLOW_LOADGEN, deny])
    assert status_of(sidecar, pki, method="/test.Admin/Reload")[0] == (
        grpc.StatusCode.PERMISSION_DENIED)
    assert call(sidecar, pki) == b"ping"


def test_bad_mesh_config_is_rejected_and_the_last_good_one_kept(sidecar, pki) -> None:
    sidecar.apply()
    good = sidecar.version
    write_mesh(sidecar.directory / "mesh.json", good + 1, "SOMETIMES", [], None)
    wait_for(lambda: sidecar.config_dump()["rejected"] is not None, "rejection")
    dump = sidecar.config_dump()
    assert dump["version"] == good and "SOMETIMES" in dump["rejected"]["error"]
    assert status_of(sidecar, pki, "intruder")[0] == grpc.StatusCode.PERMISSION_DENIED
    sidecar.apply()
    assert sidecar.config_dump()["rejected"] is None


# forwarding ----------------------------------------------------------------------------


def test_app_status_and_details_come_back_unchanged(sidecar, pki) -> None:
    sidecar.apply()
    assert status_of(sidecar, pki, method="/test.Echo/Fail", request=b"NOT_FOUND") == (
        grpc.StatusCode.NOT_FOUND, "app says no")


def test_caller_deadline_is_propagated(sidecar, pki, app) -> None:
    sidecar.apply()
    code, _ = status_of(sidecar, pki, method="/test.Echo/Slow", request=b"0.6", timeout_s=0.3)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert app[0].last_remaining_s is not None and app[0].last_remaining_s <= 0.3


def test_large_message_passes(sidecar, pki) -> None:
    sidecar.apply()
    payload = os.urandom(5 * 1024 * 1024)  # over gRPC's default 4 MiB receive limit
    assert call(sidecar, pki, request=payload) == payload


# faults --------------------------------------------------------------------------------


def test_abort_at_100_pct_and_0_pct(sidecar, pki, app) -> None:
    sidecar.apply(fault={"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 100}}})
    before = app[0].calls
    assert status_of(sidecar, pki) == (grpc.StatusCode.UNAVAILABLE, "fault filter abort")
    assert app[0].calls == before
    sidecar.apply(fault={"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 0}}})
    assert call(sidecar, pki) == b"ping"
    sidecar.apply(fault={"abort": {"grpcStatus": "UNAVAILABLE"}})  # no percentage: nobody
    assert call(sidecar, pki) == b"ping"


def test_abort_percentage_is_honoured(sidecar, pki) -> None:
    sidecar.apply(fault={"abort": {"grpcStatus": "RESOURCE_EXHAUSTED",
                                   "percentage": {"value": 30}}})
    n = 200
    aborted = sum(status_of(sidecar, pki)[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
                  for _ in range(n))
    # binomial(200, 0.3): mean 60, sd 6.5; +-4 sd
    assert 34 <= aborted <= 86


def test_delay_is_applied_before_the_call(sidecar, pki) -> None:
    sidecar.apply(fault={"delay": {"fixedDelay": "300ms", "percentage": {"value": 100}}})
    start = time.monotonic()
    assert call(sidecar, pki) == b"ping"
    assert time.monotonic() - start >= 0.3
    assert status_of(sidecar, pki, timeout_s=0.1)[0] == grpc.StatusCode.DEADLINE_EXCEEDED


# metrics and admin ---------------------------------------------------------------------


def test_requests_are_counted_with_istio_labels(sidecar, pki) -> None:
    ok = {"reporter": "destination", "source_principal": f"spiffe://{LOADGEN}",
          "destination_workload": "anomaly-detection", "request_protocol": "grpc",
          "destination_principal": "spiffe://cluster.local/ns/tfserving/sa/anomaly-detection",
          "response_code": "200", "grpc_response_status": "0",
          "connection_security_policy": "mutual_tls", "response_flags": "-"}
    denied = {"source_principal": "spiffe://cluster.local/ns/tfsverify/sa/intruder",
              "response_code": "403", "grpc_response_status": "7"}
    aborted = {"response_flags": "FI", "grpc_response_status": "14"}
    sidecar.apply()
    before = [sidecar.requests_total(**labels) for labels in (ok, denied, aborted)]
    call(sidecar, pki)
    call(sidecar, pki)
    status_of(sidecar, pki, "intruder")
    sidecar.apply(fault={"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 100}}})
    status_of(sidecar, pki)
    after = [sidecar.requests_total(**labels) for labels in (ok, denied, aborted)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 1]


def test_stats_merge_the_app_metrics_and_use_istio_buckets(sidecar, pki) -> None:
    sidecar.apply()
    call(sidecar, pki)
    status, body = sidecar.http("/stats/prometheus")
    text = body.decode()
    assert status == 200
    assert "fake_app_metric_total 7" in text
    assert 'istio_request_duration_milliseconds_bucket{' in text and 'le="3.6e+06"' in text
    assert "_created" not in text


def test_admin_answers_404_for_unknown_paths(sidecar) -> None:
    assert sidecar.http("/nope")[0] == 404


# process life --------------------------------------------------------------------------


def test_unreachable_app_gives_unavailable_and_sigterm_exits_0(tmp_path, pki) -> None:
    proc = launch(tmp_path, pki, free_port(), None)
    try:
        wait_for(lambda: proc.http("/healthz/ready")[0] == 200, "sidecar ready")
        code, details = status_of(proc, pki)
        assert code == grpc.StatusCode.UNAVAILABLE
        assert details.startswith("upstream connect error")
        assert proc.requests_total(response_flags="UF", response_code="503") == 1
        assert proc.http("/stats/prometheus")[0] == 200  # no app metrics url: sidecar alone
    finally:
        assert proc.stop() == 0


def test_listen_address_in_use_exits_3_with_one_line(tmp_path, pki, sidecar) -> None:
    port = int(sidecar.listen.rpartition(":")[2])
    proc = launch(tmp_path, pki, free_port(), None, listen_port=port)
    try:
        assert proc.proc.wait(15) == 3
    finally:
        proc.stop()
    lines = (tmp_path / "stderr.log").read_text().strip().splitlines()
    assert len(lines) == 1 and "in use" in lines[0]


def test_bad_config_exits_2(tmp_path) -> None:
    (tmp_path / "sidecar.json").write_text('{"pod": "x"}')
    result = subprocess.run(
        [sys.executable, "-m", "tfsverify.targets.local.sidecar", "--config",
         str(tmp_path / "sidecar.json")], capture_output=True, timeout=30, check=False)
    assert result.returncode == 2
    assert b"missing" in result.stderr


def test_sigint_lets_a_call_in_flight_finish_then_exits_0(tmp_path, pki, app) -> None:
    proc = launch(tmp_path, pki, app[1], None)
    try:
        wait_for(lambda: proc.http("/healthz/ready")[0] == 200, "sidecar ready")
        calls_before = app[0].calls
        with futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(call, proc, pki, method="/test.Echo/Slow", request=b"0.3")
            wait_for(lambda: app[0].calls > calls_before, "call in flight")
            proc.proc.send_signal(signal.SIGINT)
            assert slow.result(10) == b"0.3"  # drained, not cut off (drain_s 0.5)
        assert proc.proc.wait(10) == 0
    finally:
        proc.stop()


def test_the_sidecar_does_not_load_tensorflow() -> None:
    code = ("import sys, tfsverify.targets.local.sidecar.__main__; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tensorflow_serving', 'keras', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
