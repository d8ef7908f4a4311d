"""TF Serving's protobuf and gRPC modules, without loading TensorFlow.

``tensorflow_serving.apis`` imports ``tensorflow.core.framework.*_pb2``, and importing any
submodule of ``tensorflow`` runs ``tensorflow/__init__.py``: about 5 s and 800 MB for a load
generator or a sidecar that only needs the message classes. Here the generated modules are
imported from the installed packages with the parent packages stood in by empty namespace
modules, which are removed again afterwards, so a later ``import tensorflow`` in the same
process still runs the real package (and reuses the very same message modules).

Import the message modules from here, never from ``tensorflow_serving.apis`` directly.
"""

from __future__ import annotations

import importlib.util
import sys
import types

_PARENTS = (
    "tensorflow",
    "tensorflow.core",
    "tensorflow.core.framework",
    "tensorflow.core.protobuf",
    "tensorflow.core.example",
)


def _stand_in_parents() -> list[str]:
    if "tensorflow" in sys.modules:
        return []
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tensorflow is not installed (tensorflow-serving-api needs it)")
    root = next(iter(spec.submodule_search_locations))
    added = []
    for name in _PARENTS:
        module = types.ModuleType(name)
        module.__path__ = ["/".join([root, *name.split(".")[1:]])]
        sys.modules[name] = module
        added.append(name)
    return added


_added = _stand_in_parents()
try:
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_pb2,
        model_service_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )
finally:
    for _name in _added:
        sys.modules.pop(_name, None)

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
METADATA_METHOD = "/tensorflow.serving.PredictionService/GetModelMetadata"
MODEL_STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"

__all__ = [
    "METADATA_METHOD",
    "MODEL_STATUS_METHOD",
    "PREDICT_METHOD",
    "get_model_metadata_pb2",
    "get_model_status_pb2",
    "model_pb2",
    "model_service_pb2",
    "model_service_pb2_grpc",
    "predict_pb2",
    "prediction_service_pb2_grpc",
    "tensor_pb2",
    "tensor_shape_pb2",
    "types_pb2",
]
