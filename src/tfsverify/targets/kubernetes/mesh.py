"""TF Serving's gRPC API and the mesh's security, probed from where this process runs.

Two vantage points matter, and each probe says which one it needs:

- **inside the mesh** (this process runs in a pod with an Istio sidecar, e.g. the load Job
  of :mod:`tfsverify.targets.kubernetes.loadjob`): calls go in plaintext to the Service's
  cluster name and the sidecar adds mTLS with the pod's identity. Model status
  (``ModelService``, allowed to ``model-admin`` only), :func:`authorised_call_succeeds` and
  :func:`unauthorised_principal_denied` are made from here;
- **outside the mesh** (a runner without a sidecar that can reach pod IPs): a plaintext
  client and a client holding a certificate from a foreign CA connect straight to a ready
  pod's port; PeerAuthentication STRICT must make the pod's sidecar refuse both.

The outside probes speak raw TLS/HTTP-2 so that the *server's* refusal is what is seen: a
gRPC client would refuse the pod's mesh certificate itself, proving nothing.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import tempfile
from pathlib import Path

import grpc

from tfsverify.errors import TargetError
from tfsverify.serving.golden import load_golden
from tfsverify.serving.protos import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)
from tfsverify.serving.requests import output_array, predict_request
from tfsverify.targets.base import ModelStatus, SecurityCheck

CALL_TIMEOUT_S = 5.0
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_STATES = get_model_status_pb2.ModelVersionStatus.State


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def model_status(address: str, name: str, version: int | None,
                 timeout_s: float = CALL_TIMEOUT_S) -> ModelStatus:
    """``GetModelStatus`` in plaintext to ``address`` (inside the mesh: via the sidecar)."""
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    with grpc.insecure_channel(address) as channel:
        try:
            reply = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
                request, timeout=timeout_s)
        except grpc.RpcError as exc:
            raise TargetError(f"GetModelStatus {name} via {address}: {exc.code().name}: "
                              f"{exc.details()}") from exc
    return ModelStatus(
        name=name,
        versions={int(v.version): _STATES.Name(v.state) for v in reply.model_version_status},
    )


def authorised_call_succeeds(address: str) -> SecurityCheck:
    """Inside the mesh as ``loadgen``: a golden Predict gets OK and the golden answer."""
    golden = load_golden()
    inputs, expected = golden.batch(1)
    request = predict_request(golden.model_name, inputs, input_name=golden.input_name,
                              signature=golden.signature_name)
    name = "authorised_call_succeeds"
    with grpc.insecure_channel(address) as channel:
        try:
            reply = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            status = exc.code().name
            return SecurityCheck(name, False, status, f"this workload got {status} from {address}")
    if not golden.matches(output_array(reply, golden.output_name), expected):
        return SecurityCheck(name, False, "OK", f"{address} gave a wrong answer")
    return SecurityCheck(name, True, "OK", f"this workload got the golden answer from {address}")


def unauthorised_principal_denied(address: str, model: str) -> SecurityCheck:
    """Inside the mesh as ``loadgen``: ModelService, which only ``model-admin`` may call,
    must answer PERMISSION_DENIED."""
    name = "unauthorised_principal_denied"
    try:
        model_status(address, model, None)
    except TargetError as exc:
        status = str(exc).split(": ")[1] if ": " in str(exc) else "UNKNOWN"
        passed = status == "PERMISSION_DENIED"
        return SecurityCheck(name, passed, status, f"ModelService via {address}: {status}"
                             + ("" if passed else " (expected PERMISSION_DENIED)"))
    return SecurityCheck(name, False, "OK", f"ModelService via {address} was SERVED to a "
                         "principal the AuthorizationPolicy does not list for it")


def _served(address: str, context: ssl.SSLContext | None) -> tuple[bool, str]:
    """Whether the server at ``address`` answered an HTTP/2 preface (and how it refused)."""
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=CALL_TIMEOUT_S) as raw:
            conn = context.wrap_socket(raw, server_hostname=host) if context else raw
            with conn:
                conn.sendall(_H2_PREFACE)
                data = conn.recv(64)
    except ssl.SSLError as exc:
        return False, f"TLS refused ({exc.reason or type(exc).__name__})"
    except (ConnectionError, TimeoutError, OSError) as exc:
        return False, f"connection refused or reset ({type(exc).__name__})"
    # an HTTP/2 server answers with a SETTINGS frame (type 0x04 at byte 3)
    if len(data) >= 4 and data[3] == 0x04:
        return True, "answered with HTTP/2 SETTINGS"
    return False, "closed without an HTTP/2 answer" if not data else "answered with non-HTTP/2"


def plaintext_call_rejected(pod_address: str) -> SecurityCheck:
    """Outside the mesh: a plaintext HTTP/2 client on a pod's port must get no answer."""
    served, how = _served(pod_address, None)
    name = "plaintext_call_rejected"
    status = "OK" if served else "UNAVAILABLE"
    return SecurityCheck(name, not served, status, f"plaintext to {pod_address}: {how}")


def foreign_ca_rejected(pod_address: str, principal: str) -> SecurityCheck:
    """Outside the mesh: a client certificate from a foreign CA, claiming ``principal``,
    must be refused by the pod's sidecar."""
    with tempfile.TemporaryDirectory(prefix="tfsverify-foreign-") as tmp:
        cert, key = _foreign_client(Path(tmp), principal)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # we test the server's check, not ours
        context.set_alpn_protocols(["h2", "istio-peer-exchange", "istio"])
        context.load_cert_chain(cert, key)
        served, how = _served(pod_address, context)
    name = "foreign_ca_rejected"
    return SecurityCheck(name, not served, "OK" if served else "UNAVAILABLE",
                         f"foreign-CA client to {pod_address}: {how}")


def _foreign_client(directory: Path, principal: str) -> tuple[Path, Path]:
    """A throwaway CA and a client certificate it signed with SAN ``spiffe://principal``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tfsverify foreign CA")])

    def build(subject: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(hours=1)))

    leaf = (build(x509.Name([]), key.public_key())
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(f"spiffe://{principal}")]), critical=True)
            .sign(ca_key, hashes.SHA256()))
    ca = (build(ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / "client.pem", directory / "client.key"
    pem = serialization.Encoding.PEM
    cert_path.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path
