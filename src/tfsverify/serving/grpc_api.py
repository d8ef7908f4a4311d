"""TF Serving's gRPC services: ``PredictionService`` and ``ModelService``.

``Predict`` and ``GetModelMetadata`` answer as TF Serving does (the response's
``model_spec`` names the version that answered; outputs are written as typed values, or as
``tensor_content`` with ``--enable_serialization_as_tensor_content``). ``Classify``,
``Regress`` and ``MultiInference`` answer UNIMPLEMENTED: the model has no such signature.
``GetModelStatus`` reports per-version states; ``HandleReloadConfigRequest`` applies a new
``ModelServerConfig`` (models not in it are unloaded).

Import TensorFlow before this module (it imports ``tfsverify.serving.protos``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
from google.protobuf import message_factory

from tfsverify.errors import BadInput
from tfsverify.serving.config import model_config_from_proto
from tfsverify.serving.manager import ModelManager
from tfsverify.serving.metrics import ServingMetrics
from tfsverify.serving.protos import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    tensor_pb2,
    types_pb2,
)
from tfsverify.serving.requests import tensor_proto
from tfsverify.serving.status import CODES, ServingError, invalid

_VALUE_FIELDS = {
    np.dtype(np.float32): (types_pb2.DT_FLOAT, "float_val"),
    np.dtype(np.float64): (types_pb2.DT_DOUBLE, "double_val"),
    np.dtype(np.int32): (types_pb2.DT_INT32, "int_val"),
    np.dtype(np.int64): (types_pb2.DT_INT64, "int64_val"),
}
_STATES = get_model_status_pb2.ModelVersionStatus.State
# model_management_pb2 is not re-exported by protos.py; take the classes from the service
_RELOAD = model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].methods_by_name[
    "HandleReloadConfigRequest"
]
ReloadConfigRequest = message_factory.GetMessageClass(_RELOAD.input_type)
ReloadConfigResponse = message_factory.GetMessageClass(_RELOAD.output_type)


class PredictCore:
    """Predict and metadata over the manager, shared by the gRPC and REST front ends."""

    def __init__(self, manager: ModelManager, metrics: ServingMetrics, as_content: bool) -> None:
        self.manager = manager
        self.metrics = metrics
        self._as_content = as_content

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        spec = request.model_spec
        servable = self.manager.servable(
            spec.name, spec.version.value if spec.HasField("version") else None, spec.version_label
        )
        outputs = servable.run(spec.signature_name, request.inputs, request.output_filter)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = spec.signature_name or "serving_default"
        for alias, array in outputs.items():
            if self._as_content:
                response.outputs[alias].CopyFrom(tensor_proto(array))
            else:
                _fill_values(response.outputs[alias], array)
        return response

    def metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.metadata_field:
            raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
        for name in request.metadata_field:
            if name != "signature_def":
                raise invalid(f"Metadata field {name} is not supported")
        spec = request.model_spec
        servable = self.manager.servable(
            spec.name, spec.version.value if spec.HasField("version") else None, spec.version_label
        )
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = servable.version
        signatures = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in servable.signature_defs.items():
            signatures.signature_def[key].CopyFrom(signature)
        response.metadata["signature_def"].Pack(signatures)
        return response

    def timed_predict(self, request: predict_pb2.PredictRequest, entrypoint: str) -> Any:
        """``predict`` with TF Serving's request_count and request_latency bookkeeping."""
        start = time.perf_counter()
        name = request.model_spec.name
        try:
            response = self.predict(request)
        except ServingError as err:
            self.metrics.count_request(name, err.code)
            raise
        self.metrics.count_request(name, "OK")
        latency_us = (time.perf_counter() - start) * 1e6
        self.metrics.observe_latency(name, "Predict", entrypoint, latency_us)
        return response


def _fill_values(proto: tensor_pb2.TensorProto, array: np.ndarray) -> None:
    """TensorFlow's ``Tensor::AsProtoField``: dtype, shape and the typed value list."""
    dtype, field = _VALUE_FIELDS[array.dtype]
    proto.dtype = dtype
    for size in array.shape:
        proto.tensor_shape.dim.add().size = size
    getattr(proto, field).extend(array.ravel().tolist())


def _abort(context: grpc.ServicerContext, err: ServingError) -> Any:
    context.abort(grpc.StatusCode[err.code], err.message)


def _guarded(call: Callable[[], Any], context: grpc.ServicerContext) -> Any:
    try:
        return call()
    except ServingError as err:
        return _abort(context, err)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, core: PredictCore) -> None:
        self._core = core

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(lambda: self._core.timed_predict(request, "GRPC"), context)

    def GetModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(lambda: self._core.metadata(request), context)

    def Classify(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _unimplemented("Classify", context)

    def Regress(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _unimplemented("Regress", context)

    def MultiInference(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _unimplemented("MultiInference", context)


def _unimplemented(method: str, context: grpc.ServicerContext) -> Any:
    context.abort(
        grpc.StatusCode.UNIMPLEMENTED, f"{method} is not served: the model has no such signature"
    )


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager: ModelManager) -> None:
        self._manager = manager

    def GetModelStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(lambda: model_status(self._manager, request), context)

    def HandleReloadConfigRequest(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            config = model_config_from_proto(request.config, "HandleReloadConfigRequest")
        except BadInput as exc:
            return _abort(context, invalid(str(exc)))
        try:
            self._manager.reload(config)
        except ServingError as err:
            return _abort(context, err)
        return ReloadConfigResponse()  # status OK


def model_status(
    manager: ModelManager, request: get_model_status_pb2.GetModelStatusRequest
) -> get_model_status_pb2.GetModelStatusResponse:
    """A ``GetModelStatusResponse`` (also the REST ``GET /v1/models/NAME`` body)."""
    spec = request.model_spec
    version = spec.version.value if spec.HasField("version") else None
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in manager.statuses(spec.name, version, spec.version_label):
        entry = response.model_version_status.add()
        entry.version = status.version
        entry.state = _STATES.Value(status.state)
        entry.status.error_code = CODES[status.error_code]
        entry.status.error_message = status.error_message
    return response
