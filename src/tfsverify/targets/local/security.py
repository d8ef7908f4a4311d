"""The mesh's security checks on the local target: who may call the model servers.

Each check makes one real Predict call to a ready pod's sidecar, as a client of a given kind
would, and says whether the mesh treated it as the reference policies require:

- :func:`plaintext_call_rejected`: a client without TLS (PeerAuthentication STRICT) gets no
  answer: the handshake fails (UNAVAILABLE);
- :func:`foreign_ca_rejected`: a client whose certificate another CA signed (it claims the
  authorised SPIFFE ID) fails the handshake too;
- :func:`unauthorised_principal_denied`: a valid mesh identity that the AuthorizationPolicy
  does not list (``ns/tfsverify/sa/intruder``) gets PERMISSION_DENIED;
- :func:`authorised_call_succeeds`: the load generator's identity gets status OK and the
  golden answer.

Any other outcome (a wrong status, an answer where a refusal was due) is ``False`` with the
reason in the returned :class:`~tfsverify.targets.base.SecurityCheck`; nothing here raises
for a policy failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from tfsverify.serving.golden import GoldenSet
from tfsverify.serving.protos import prediction_service_pb2_grpc
from tfsverify.serving.requests import output_array, predict_request
from tfsverify.targets.base import SecurityCheck
from tfsverify.targets.local.pki import MeshPki, ensure_mesh_pki

CALL_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Caller:
    """Where to call (a ready pod's mesh address) and what to ask (a golden Predict)."""

    pki_dir: Path
    address: str
    server_name: str
    golden: GoldenSet

    @property
    def pki(self) -> MeshPki:
        return ensure_mesh_pki(self.pki_dir)


def _predict(caller: Caller, channel: grpc.Channel) -> tuple[str, np.ndarray | None]:
    inputs, _ = caller.golden.batch(1)
    request = predict_request(caller.golden.model_name, inputs,
                              input_name=caller.golden.input_name,
                              signature=caller.golden.signature_name)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    try:
        reply = stub.Predict(request, timeout=CALL_TIMEOUT_S)
    except grpc.RpcError as exc:
        return exc.code().name, None
    return "OK", output_array(reply, caller.golden.output_name)


def _mtls_call(caller: Caller, ca: Path, cert: Path, key: Path) -> tuple[str, np.ndarray | None]:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )
    options = [("grpc.ssl_target_name_override", caller.server_name)]
    with grpc.secure_channel(caller.address, credentials, options=options) as channel:
        return _predict(caller, channel)


def plaintext_call_rejected(caller: Caller) -> SecurityCheck:
    with grpc.insecure_channel(caller.address) as channel:
        status, _ = _predict(caller, channel)
    return _refused("plaintext_call_rejected", status, "UNAVAILABLE", "a plaintext client")


def foreign_ca_rejected(caller: Caller) -> SecurityCheck:
    pki = caller.pki
    status, _ = _mtls_call(caller, pki.ca_cert, pki.foreign_client_cert, pki.foreign_client_key)
    return _refused("foreign_ca_rejected", status, "UNAVAILABLE",
                    "a client certificate from a foreign CA")


def unauthorised_principal_denied(caller: Caller) -> SecurityCheck:
    pki = caller.pki
    status, _ = _mtls_call(caller, pki.ca_cert, pki.intruder_cert, pki.intruder_key)
    return _refused("unauthorised_principal_denied", status, "PERMISSION_DENIED",
                    f"the unauthorised principal {pki.intruder_principal}")


def authorised_call_succeeds(caller: Caller) -> SecurityCheck:
    pki = caller.pki
    status, scores = _mtls_call(caller, pki.ca_cert, pki.client_cert, pki.client_key)
    name = "authorised_call_succeeds"
    who = f"the authorised principal {pki.client_principal}"
    if status != "OK" or scores is None:
        return SecurityCheck(name, False, status, f"{who} got {status}")
    _, expected = caller.golden.batch(1)
    if not caller.golden.matches(scores, expected):
        return SecurityCheck(name, False, status, f"{who} got a wrong answer")
    return SecurityCheck(name, True, status, f"{who} got the golden answer")


def _refused(name: str, status: str, wanted: str, who: str) -> SecurityCheck:
    if status == wanted:
        return SecurityCheck(name, True, status, f"{who} was refused with {status}")
    if status == "OK":
        return SecurityCheck(name, False, status, f"{who} was SERVED (expected {wanted})")
    return SecurityCheck(name, False, status, f"{who} got {status} (expected {wanted})")
