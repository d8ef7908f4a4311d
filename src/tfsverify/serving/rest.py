"""TF Serving's REST API on ``--rest_api_port`` (stdlib ``ThreadingHTTPServer``).

* ``GET /v1/models/NAME[/versions/N|/labels/L]``: model status, ``{"model_version_status":
  [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", ...}}]}``.
* ``GET .../metadata``: the signatures; 404 unless the version is AVAILABLE, which makes it
  the readiness probe of the reference deployment.
* ``POST .../:predict``: ``{"instances": [...]}`` (rows) -> ``{"predictions": [...]}`` or
  ``{"inputs": ...}`` (columns) -> ``{"outputs": ...}``; optional ``signature_name``.
* ``GET <prometheus path>``: the metrics, when the monitoring config enables them.

Errors are ``{"error": "..."}`` with TF Serving's HTTP status for the canonical code.
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from google.protobuf import json_format

from tfsverify.serving.config import MonitoringSettings
from tfsverify.serving.grpc_api import PredictCore, model_status
from tfsverify.serving.metrics import CONTENT_TYPE
from tfsverify.serving.protos import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
)
from tfsverify.serving.requests import tensor_array, tensor_proto
from tfsverify.serving.status import ServingError, http_status, invalid

_SPEC = r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?"
_PREDICT = re.compile(_SPEC + r":(classify|regress|predict)", re.IGNORECASE)
_GET = re.compile(_SPEC + r"(/metadata)?", re.IGNORECASE)
_NP = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}
Reply = tuple[int, str, bytes]


class RestApi:
    """Routes one HTTP request to the core; independent of the HTTP server."""

    def __init__(self, core: PredictCore, monitoring: MonitoringSettings) -> None:
        self._core = core
        self._monitoring = monitoring

    def handle(self, method: str, path: str, body: bytes) -> Reply:
        path = path.split("?", 1)[0]
        try:
            metrics = self._monitoring.prometheus_enabled and self._monitoring.prometheus_path
            if method == "GET" and path == metrics:
                return 200, CONTENT_TYPE, self._core.metrics.render().encode()
            if method == "GET" and (match := _GET.fullmatch(path)):
                name, version, label, metadata = match.groups()
                spec = _spec(name, version, label)
                return _json(200, self._metadata(spec) if metadata else self._status(spec))
            if method == "POST" and (match := _PREDICT.fullmatch(path)):
                name, version, label, verb = match.groups()
                if verb.lower() != "predict":
                    raise ServingError(
                        "UNIMPLEMENTED", f"{verb} is not served: the model has no such signature"
                    )
                return _json(200, self._predict(_spec(name, version, label), body))
            if not path.lower().startswith("/v1/"):
                raise ServingError("NOT_FOUND", f"Not found: {method} {path}")
            raise invalid(f"Malformed request: {method} {path}")
        except ServingError as err:
            return _json(http_status(err.code), {"error": err.message})

    def _status(self, spec: Any) -> Any:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        return _to_dict(model_status(self._core.manager, request))

    def _metadata(self, spec: Any) -> Any:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=spec, metadata_field=["signature_def"]
        )
        response = self._core.metadata(request)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        return {
            "model_spec": _to_dict(response.model_spec),
            "metadata": {"signature_def": _to_dict(signatures)},
        }

    def _predict(self, spec: Any, body: bytes) -> Any:
        try:
            doc = json.loads(body or b"null")
        except ValueError as exc:
            raise invalid(f"JSON Parse error: {exc}") from exc
        if not isinstance(doc, dict) or ("instances" in doc) == ("inputs" in doc):
            raise invalid(
                "Missing 'inputs' or 'instances' key"
                if isinstance(doc, dict)
                else "Body must be an object"
            )
        spec.signature_name = str(doc.get("signature_name", ""))
        aliases = self._input_dtypes(spec)
        rows = "instances" in doc
        columns = (
            _from_instances(doc["instances"], aliases)
            if rows
            else _from_inputs(doc["inputs"], aliases)
        )
        request = predict_pb2.PredictRequest(model_spec=spec)
        for alias, value in columns.items():
            try:
                array = np.asarray(value, dtype=_NP.get(aliases.get(alias, 1), np.float32))
            except (ValueError, TypeError) as exc:
                raise invalid(f"input {alias}: {exc}") from exc
            request.inputs[alias].CopyFrom(tensor_proto(array))
        response = self._core.timed_predict(request, "REST")
        outputs = {alias: _plain(tensor_array(t)) for alias, t in response.outputs.items()}
        if not rows:
            return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
        if len(outputs) == 1:
            return {"predictions": next(iter(outputs.values()))}
        count = min(len(v) for v in outputs.values())
        return {"predictions": [{a: v[i] for a, v in outputs.items()} for i in range(count)]}

    def _input_dtypes(self, spec: Any) -> dict[str, int]:
        """Input alias -> dtype of the signature asked for ({} when it cannot be found)."""
        try:
            version = spec.version.value if spec.HasField("version") else None
            servable = self._core.manager.servable(spec.name, version, spec.version_label)
        except ServingError:
            return {}  # the Predict call itself reports (and counts) the error
        signature = servable.signature_defs.get(spec.signature_name or "serving_default")
        return {a: t.dtype for a, t in signature.inputs.items()} if signature else {}


def _spec(name: str, version: str | None, label: str | None) -> Any:
    spec = model_pb2.ModelSpec(name=name)
    if version is not None:
        spec.version.value = int(version)
    elif label is not None:
        spec.version_label = label
    return spec


def _from_instances(instances: Any, aliases: dict[str, int]) -> dict[str, list[Any]]:
    if not isinstance(instances, list) or not instances:
        raise invalid("'instances' must be a non-empty list")
    if all(isinstance(i, dict) for i in instances):
        names = set(instances[0])
        if any(set(i) != names for i in instances):
            raise invalid(
                "Failed to process element: every instance must have the same named inputs"
            )
        return {n: [i[n] for i in instances] for n in sorted(names)}
    if len(aliases) > 1:
        raise invalid(
            "instances must be objects naming each input when the signature has several inputs"
        )
    return {next(iter(aliases), "features"): instances}


def _from_inputs(inputs: Any, aliases: dict[str, int]) -> dict[str, Any]:
    if isinstance(inputs, dict):
        return dict(inputs)
    if len(aliases) > 1:
        raise invalid(
            "'inputs' must be an object naming each input when the signature has several inputs"
        )
    return {next(iter(aliases), "features"): inputs}


def _plain(array: np.ndarray) -> Any:
    """JSON-ready values; floats printed with 9 significant digits, as TF Serving does."""
    if array.dtype.kind == "f":
        flat = [float(f"{x:.9g}") for x in array.ravel().tolist()]
        return np.asarray(flat).reshape(array.shape).tolist()
    return array.tolist()


def _to_dict(message: Any) -> Any:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _json(status: int, doc: Any) -> Reply:
    return status, "application/json", (json.dumps(doc, indent=1) + "\n").encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tfsverify-model-server"
    server: RestServer

    def do_GET(self) -> None:
        self._reply("GET")

    def do_POST(self) -> None:
        self._reply("POST")

    def _reply(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, content_type, payload = self.server.api.handle(method, self.path, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # TF Serving does not log requests either


class RestServer(ThreadingHTTPServer):
    """The REST port; ``serve_forever`` in a thread, ``shutdown`` to stop."""

    daemon_threads = True

    def __init__(self, host: str, port: int, api: RestApi) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.api = api
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn): skip the DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = (
            str(self.server_address[0]),
            int(self.server_address[1]),
        )
