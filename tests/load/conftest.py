"""A fake TF Serving PredictionService for the load engine's tests.

It answers golden rows with their golden scores (looked up by the row's bytes), and can be
told to answer wrong, to stall for a while, or to fail. It runs in this process on a
random 127.0.0.1 port and is stopped by its fixture.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tfsverify.serving.golden import GoldenSet, load_golden
from tfsverify.serving.protos import PREDICT_METHOD, predict_pb2
from tfsverify.serving.requests import tensor_array, tensor_proto

SERVER_NAME = "tfs.mesh.test"


@dataclass(frozen=True)
class Pki:
    """A throwaway CA with one server certificate (for SERVER_NAME) and one client identity."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    server_name: str = SERVER_NAME


def make_pki(directory: Path) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test mesh CA")])
    ca_cert = _certificate(ca_name, ca_key, ca_name, ca_key, is_ca=True)
    out = {"ca": _write(directory / "ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM))}
    sans: dict[str, x509.GeneralName] = {
        "server": x509.DNSName(SERVER_NAME),
        "client": x509.UniformResourceIdentifier("spiffe://cluster.local/ns/t/sa/loadgen"),
    }
    for role, san in sans.items():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, role)])
        cert = _certificate(name, key, ca_name, ca_key, is_ca=False, san=san)
        out[f"{role}_cert"] = _write(
            directory / f"{role}.pem", cert.public_bytes(serialization.Encoding.PEM)
        )
        out[f"{role}_key"] = _write(
            directory / f"{role}-key.pem",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    return Pki(**out)


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    is_ca: bool,
    san: x509.GeneralName | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class FakePredictServer:
    """Answers Predict for golden rows; ``wrong``, ``stall_*`` and ``fail_with`` change that."""

    def __init__(self, golden: GoldenSet, max_workers: int = 32, tls: Pki | None = None) -> None:
        self.golden = golden
        self._scores = {
            row.tobytes(): score for row, score in zip(golden.inputs, golden.scores, strict=True)
        }
        self.wrong = False
        self.names_version = False  # say which version answered, as TF Serving does
        self.fail_with: grpc.StatusCode | None = None
        self.stall_from_unix = 0.0  # requests arriving in [from, until) wait until `until`
        self.stall_until_unix = 0.0
        self.received = 0
        self._lock = threading.Lock()
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=max_workers), options=[("grpc.so_reuseport", 0)]
        )
        handler = grpc.method_handlers_generic_handler(
            "tensorflow.serving.PredictionService",
            {
                "Predict": grpc.unary_unary_rpc_method_handler(
                    self._predict,
                    request_deserializer=predict_pb2.PredictRequest.FromString,
                    response_serializer=predict_pb2.PredictResponse.SerializeToString,
                )
            },
        )
        assert PREDICT_METHOD == "/tensorflow.serving.PredictionService/Predict"
        self._server.add_generic_rpc_handlers((handler,))
        if tls is None:
            self.port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            credentials = grpc.ssl_server_credentials(
                [(tls.server_key.read_bytes(), tls.server_cert.read_bytes())],
                root_certificates=tls.ca.read_bytes(),
                require_client_auth=True,
            )
            self.port = self._server.add_secure_port("127.0.0.1:0", credentials)
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> FakePredictServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=0).wait(5)

    def stall(self, from_unix: float, seconds: float) -> None:
        self.stall_from_unix, self.stall_until_unix = from_unix, from_unix + seconds

    def _predict(
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        with self._lock:
            self.received += 1
        now = time.time()
        if self.stall_from_unix <= now < self.stall_until_unix:
            time.sleep(self.stall_until_unix - now)
        if self.fail_with is not None:
            context.abort(self.fail_with, "fake failure")
        rows = tensor_array(request.inputs[self.golden.input_name])
        scores = np.array([self._scores.get(row.tobytes(), np.nan) for row in rows], np.float32)
        if self.wrong:
            scores = scores + 1.0
        response = predict_pb2.PredictResponse()
        response.outputs[self.golden.output_name].CopyFrom(tensor_proto(scores))
        if self.names_version:
            response.model_spec.name = self.golden.model_name
            response.model_spec.version.value = self.golden.version
        return response


@pytest.fixture(scope="session")
def golden() -> GoldenSet:
    return load_golden()


@pytest.fixture
def fake_server(golden: GoldenSet) -> Iterator[FakePredictServer]:
    server = FakePredictServer(golden).start()
    yield server
    server.stop()


@pytest.fixture
def second_server(golden: GoldenSet) -> Iterator[FakePredictServer]:
    server = FakePredictServer(golden).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def mtls_server(golden: GoldenSet, pki: Pki) -> Iterator[FakePredictServer]:
    server = FakePredictServer(golden, tls=pki).start()
    yield server
    server.stop()
