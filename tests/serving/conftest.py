"""Real model server processes for the serving tests.

``launch`` (module scope) starts ``python -m tfsverify.serving`` on free loopback ports and
stops every process it started when the module ends, even if a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from tfsverify.serving.golden import load_golden
from tfsverify.serving.protos import prediction_service_pb2_grpc
from tfsverify.serving.requests import predict_request

REPO = Path(__file__).resolve().parents[2]
MODEL_ROOT = REPO / "reference-deploy" / "model"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    grpc_port: int
    rest_port: int
    log: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def start(args: list[str], mounts: dict[str, str], log: Path) -> Server:
    """Start ``python -m tfsverify.serving`` on free loopback ports (not waiting)."""
    grpc_port, rest_port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        TFSVERIFY_BIND_HOST="127.0.0.1",
        TFSVERIFY_MOUNTS=json.dumps(mounts),
        TFSVERIFY_TF_THREADS="1",
    )
    argv = [
        sys.executable,
        "-m",
        "tfsverify.serving",
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        *args,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    return Server(process, grpc_port, rest_port, log)


def wait_until_serving(server: Server, timeout_s: float = 90.0) -> float:
    """Seconds until a golden Predict succeeds; fails with the log if the process exits."""
    golden = load_golden()
    request = predict_request(golden.model_name, golden.inputs[:1])
    started = time.monotonic()
    with grpc.insecure_channel(server.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        while time.monotonic() - started < timeout_s:
            if server.process.poll() is not None:
                raise AssertionError(
                    f"server exited {server.process.returncode}:\n{server.stderr()}"
                )
            try:
                stub.Predict(request, timeout=2)
                return time.monotonic() - started
            except grpc.RpcError:
                time.sleep(0.2)
    raise AssertionError(f"server not serving after {timeout_s} s:\n{server.stderr()}")


def stop(server: Server) -> None:
    """SIGINT (what ends tensorflow_model_server), then SIGKILL if it lingers."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


class Launcher:
    """Starts servers and remembers them so that the fixture can stop them all."""

    wait = staticmethod(wait_until_serving)
    stop = staticmethod(stop)
    free_port = staticmethod(free_port)

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self.started: list[Server] = []

    def __call__(self, args: list[str], mounts: dict[str, str], name: str) -> Server:
        server = start(args, mounts, self._log_dir / f"{name}.log")
        self.started.append(server)
        return server


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path_factory.mktemp("server-logs"))
    yield launcher
    for server in launcher.started:
        stop(server)
