"""Start-up of a model server process: load the initial models, then open the ports.

As in TF Serving, the gRPC (and REST) ports open only after every configured model has an
AVAILABLE version, so an open port implies the initial load succeeded. The gRPC server
binds with ``grpc.so_reuseport=0`` so that a port in use fails loudly.

Import TensorFlow before this module.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tfsverify.errors import BadInput, TargetError
from tfsverify.serving.config import MonitoringSettings, ServerModelConfig, resolve_path
from tfsverify.serving.grpc_api import ModelService, PredictCore, PredictionService
from tfsverify.serving.manager import ModelManager
from tfsverify.serving.metrics import ServingMetrics
from tfsverify.serving.protos import model_service_pb2_grpc, prediction_service_pb2_grpc
from tfsverify.serving.rest import RestApi, RestServer
from tfsverify.serving.servable import Servable
from tfsverify.serving.status import ServingError

if TYPE_CHECKING:
    from tfsverify.serving.flags import ServerFlags
    from tfsverify.serving.server import Environment

GRPC_WORKERS = 8
# TF Serving sets its short service names, and gRPC's default health service has "" too
HEALTH_SERVICES = ("", "ModelService", "PredictionService")


@dataclass
class Handles:
    """What a running server holds; ``close()`` stops the ports at once."""

    manager: ModelManager
    grpc_server: grpc.Server
    rest_server: RestServer | None = None
    addresses: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.grpc_server.stop(grace=None)
        if self.rest_server is not None:
            self.rest_server.shutdown()
            self.rest_server.server_close()


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def load_servable(name: str, version: int, path: Path) -> Servable:
    return Servable(name, version, path)


def open_endpoints(
    flags: ServerFlags, env: Environment, config: ServerModelConfig, monitoring: MonitoringSettings
) -> Handles:
    """Load ``config`` (BadInput when a model has nothing loadable) and open the ports."""
    metrics = ServingMetrics()
    manager = ModelManager(
        load_servable,
        mounts=dict(env.mounts),
        metrics=metrics,
        allow_unavailable_labels=flags.allow_version_labels_for_unavailable_models,
        max_load_retries=flags.max_num_load_retries,
        load_retry_interval_s=flags.load_retry_interval_micros / 1e6,
    )
    try:
        manager.reload(config)
    except ServingError as err:
        raise BadInput(f"Failed to start server. Error: {err}") from err
    core = PredictCore(manager, metrics, as_content=flags.enable_serialization_as_tensor_content)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS, thread_name_prefix="grpc"),
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", -1),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(core), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(manager), server)
    if flags.enable_grpc_healthcheck_service:
        checker = health.HealthServicer()
        for service in HEALTH_SERVICES:
            checker.set(service, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    handles = Handles(manager=manager, grpc_server=server)
    address = _address(env.bind_host, flags.port)
    try:
        server.add_insecure_port(address)
        if flags.grpc_socket_path:
            socket_path = resolve_path(flags.grpc_socket_path, dict(env.mounts))
            server.add_insecure_port(f"unix:{socket_path}")
            handles.addresses.append(f"gRPC unix:{socket_path}")
    except RuntimeError as exc:
        raise TargetError(f"gRPC port {flags.port} on {env.bind_host} is in use ({exc})") from exc
    server.start()
    handles.addresses.insert(0, f"gRPC {address}")
    if flags.rest_api_port:
        try:
            rest = RestServer(env.bind_host, flags.rest_api_port, RestApi(core, monitoring))
        except OSError as exc:
            server.stop(grace=None)
            raise TargetError(
                f"REST API port {flags.rest_api_port} on {env.bind_host} is in use: {exc.strerror}"
            ) from exc
        threading.Thread(target=rest.serve_forever, name="rest", daemon=True).start()
        handles.rest_server = rest
        handles.addresses.append(f"REST {_address(env.bind_host, flags.rest_api_port)}")
    return handles
