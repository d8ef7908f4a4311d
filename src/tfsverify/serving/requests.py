"""Build TF Serving Predict requests and read their answers, cheaply (no TensorFlow).

A load generator calls these once per request, so they build the ``TensorProto`` by hand
(``dtype``, ``tensor_shape``, raw little-endian ``tensor_content``) instead of going through
``tf.make_tensor_proto``. Answers are decoded whether the server filled ``tensor_content``
or the typed ``*_val`` fields (TF Serving's default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfsverify.errors import BadInput, TargetError
from tfsverify.serving.protos import predict_pb2, tensor_pb2, types_pb2

# TensorProto dtype -> (numpy dtype of tensor_content, name of the typed value field)
_DTYPES: dict[int, tuple[np.dtype[Any], str]] = {
    types_pb2.DT_FLOAT: (np.dtype("<f4"), "float_val"),
    types_pb2.DT_DOUBLE: (np.dtype("<f8"), "double_val"),
    types_pb2.DT_INT32: (np.dtype("<i4"), "int_val"),
    types_pb2.DT_INT64: (np.dtype("<i8"), "int64_val"),
}
_FROM_NUMPY = {np.dtype(v[0]).newbyteorder("="): k for k, v in _DTYPES.items()}


def dtype_name(dtype: int) -> str:
    """``DT_FLOAT`` -> ``float``, as TensorFlow's error messages spell dtypes."""
    return types_pb2.DataType.Name(dtype).removeprefix("DT_").lower()


def tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A ``TensorProto`` holding ``array`` (float32/64, int32/64) as ``tensor_content``."""
    proto = tensor_pb2.TensorProto()
    _fill(proto, np.asarray(array))
    return proto


def _fill(proto: tensor_pb2.TensorProto, arr: np.ndarray) -> None:
    dtype = _FROM_NUMPY.get(arr.dtype.newbyteorder("="))
    if dtype is None:
        raise BadInput(f"cannot send a tensor of dtype {arr.dtype} (use float32)")
    proto.dtype = dtype
    proto.tensor_content = arr.astype(_DTYPES[dtype][0], copy=False).tobytes()
    dims = proto.tensor_shape.dim
    for size in arr.shape:
        dims.add().size = size


def predict_request(
    model: str,
    inputs: np.ndarray,
    *,
    input_name: str = "features",
    version: int | None = None,
    version_label: str | None = None,
    signature: str = "serving_default",
) -> predict_pb2.PredictRequest:
    """A ``PredictRequest`` for ``model`` with one input tensor (float32 ``[n, 16]`` here).

    Give ``version`` or ``version_label`` to pin the version; neither means the latest
    available one, as TF Serving defines it.
    """
    if version is not None and version_label is not None:
        raise BadInput("give a model version or a version label, not both")
    request = predict_pb2.PredictRequest()
    spec = request.model_spec
    spec.name = model
    spec.signature_name = signature
    if version is not None:
        spec.version.value = version
    elif version_label is not None:
        spec.version_label = version_label
    _fill(request.inputs[input_name], np.asarray(inputs, dtype=np.float32))
    return request


def tensor_array(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """The numpy array a ``TensorProto`` holds (``tensor_content`` or typed values).

    Raises ``ValueError`` for unsupported dtypes or a value count that does not fit the shape.
    """
    known = _DTYPES.get(proto.dtype)
    if known is None:
        raise ValueError(f"unsupported tensor dtype {dtype_name(proto.dtype)}")
    np_dtype, field = known
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    size = int(np.prod(shape)) if shape else 1
    if proto.tensor_content:
        flat = np.frombuffer(proto.tensor_content, dtype=np_dtype)
    else:
        flat = np.asarray(getattr(proto, field), dtype=np_dtype)
        if 0 < len(flat) < size:  # TensorProto semantics: the last value repeats
            flat = np.concatenate([flat, np.full(size - len(flat), flat[-1], np_dtype)])
    if len(flat) != size:
        raise ValueError(f"tensor holds {len(flat)} values, shape {list(shape)} needs {size}")
    return flat.reshape(shape)


def output_array(response: predict_pb2.PredictResponse, name: str = "score") -> np.ndarray:
    """Output ``name`` of a ``PredictResponse`` as a numpy array (``score``: float32 ``[n]``)."""
    if name not in response.outputs:
        have = ", ".join(sorted(response.outputs)) or "none"
        raise TargetError(f"Predict response has no output {name!r} (outputs: {have})")
    try:
        return tensor_array(response.outputs[name])
    except ValueError as exc:
        raise TargetError(f"Predict response output {name!r}: {exc}") from exc
