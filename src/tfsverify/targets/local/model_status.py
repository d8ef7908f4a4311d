"""Model status of the local target, asked the way an operator would: through the mesh.

The reference AuthorizationPolicy lets only the ``model-admin`` identity call
``tensorflow.serving.ModelService``, so the query holds a mesh certificate of that identity
and goes through a ready pod's sidecar, like ``GetModelStatus`` from an admin pod would.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from tfsverify.errors import TargetError
from tfsverify.serving.protos import get_model_status_pb2, model_service_pb2_grpc
from tfsverify.targets.base import ModelStatus
from tfsverify.targets.local.pki import ensure_mesh_pki, issue_workload_cert

ADMIN_NAMESPACE = "tfsverify"
ADMIN_SERVICE_ACCOUNT = "model-admin"

_STATES = get_model_status_pb2.ModelVersionStatus.State


def query_model_status(
    pki_dir: Path,
    address: str,
    server_name: str,
    name: str,
    version: int | None = None,
    timeout_s: float = 5.0,
) -> ModelStatus:
    """``GetModelStatus`` for ``name`` (one version or all) through the sidecar at ``address``."""
    pki = ensure_mesh_pki(pki_dir)
    cert, key = issue_workload_cert(pki, ADMIN_NAMESPACE, ADMIN_SERVICE_ACCOUNT, [])
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca_cert.read_bytes(),
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    options = [("grpc.ssl_target_name_override", server_name)]
    with grpc.secure_channel(address, credentials, options=options) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        try:
            reply = stub.GetModelStatus(request, timeout=timeout_s)
        except grpc.RpcError as exc:
            raise TargetError(
                f"GetModelStatus {name} via {address}: {exc.code().name}: {exc.details()}"
            ) from exc
    return ModelStatus(
        name=name,
        versions={int(v.version): _STATES.Name(v.state) for v in reply.model_version_status},
    )
