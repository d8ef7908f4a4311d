"""One loaded model version (a SavedModel) and how a Predict request runs on it.

Validation follows TF Serving's ``predict_util.cc``: the signature must exist
(FAILED_PRECONDITION ``Serving signature key "x" not found.``), the request must send exactly
the signature's inputs, each with the signature's dtype and a compatible shape
(INVALID_ARGUMENT), and ``output_filter`` may only name the signature's outputs.

Importing this module imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from tfsverify.serving.requests import dtype_name, tensor_array
from tfsverify.serving.status import ServingError, invalid

DEFAULT_SIGNATURE = "serving_default"
_NP_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}  # DT_* -> numpy


class Servable:
    """A SavedModel version loaded with ``tf.saved_model.load`` (tags ``serve``)."""

    def __init__(self, name: str, version: int, path: Path) -> None:
        self.name = name
        self.version = version
        self.path = path
        meta = _serve_meta_graph(path)
        self.signature_defs: Mapping[str, meta_graph_pb2.SignatureDef] = dict(meta.signature_def)
        loaded = tf.saved_model.load(str(path), tags=["serve"])
        self._loaded = loaded  # keeps the variables alive
        self._functions: dict[str, Any] = {
            key: loaded.signatures[key] for key in self.signature_defs if key in loaded.signatures
        }

    def run(
        self,
        signature_name: str,
        inputs: Mapping[str, Any],
        output_filter: Iterable[str] = (),
    ) -> dict[str, np.ndarray]:
        """Run a signature on ``inputs`` (TensorProtos or arrays); outputs by alias."""
        key = signature_name or DEFAULT_SIGNATURE
        signature = self.signature_defs.get(key)
        function = self._functions.get(key)
        if signature is None or function is None:
            raise ServingError("FAILED_PRECONDITION", f'Serving signature key "{key}" not found.')
        _check_input_names(signature, inputs)
        feeds = {}
        for index, (alias, value) in enumerate(sorted(inputs.items())):
            feeds[alias] = tf.constant(_input_array(signature.inputs[alias], alias, index, value))
        wanted = _output_aliases(signature, output_filter)
        try:
            results = function(**feeds)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
            raise invalid(str(exc).splitlines()[0]) from exc
        return {alias: results[alias].numpy() for alias in wanted}


def _serve_meta_graph(path: Path) -> meta_graph_pb2.MetaGraphDef:
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
    except FileNotFoundError as exc:
        raise ServingError(
            "NOT_FOUND",
            f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {path}",
        ) from exc
    for meta in proto.meta_graphs:
        if "serve" in meta.meta_info_def.tags:
            return meta
    raise ServingError(
        "NOT_FOUND", f"Could not find meta graph def matching supplied tags: {{ serve }} in {path}"
    )


def _check_input_names(signature: meta_graph_pb2.SignatureDef, inputs: Mapping[str, Any]) -> None:
    sent, expected = set(inputs), set(signature.inputs)
    if len(sent) != len(expected):
        raise invalid(
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
            f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
            f"Missing but required: {{{','.join(sorted(expected - sent))}}}."
        )
    extra = sorted(sent - expected)
    if extra:
        raise invalid(
            f"input tensor alias not found in signature: {extra[0]}. "
            f"Inputs expected to be in the set {{{','.join(sorted(expected))}}}."
        )


def _input_array(info: meta_graph_pb2.TensorInfo, alias: str, index: int, value: Any) -> np.ndarray:
    want = _NP_DTYPES.get(info.dtype)
    if want is None:
        raise invalid(f"input {alias}: signature dtype {dtype_name(info.dtype)} is not supported")
    if isinstance(value, np.ndarray):
        array = value.astype(want, copy=False)
    else:  # a TensorProto
        if value.dtype != info.dtype:
            raise invalid(
                f"Expects arg[{index}] to be {dtype_name(info.dtype)} "
                f"but {dtype_name(value.dtype)} is provided"
            )
        try:
            array = tensor_array(value)
        except ValueError as exc:
            raise invalid(f"tensor parsing error: {alias}") from exc
    if not info.tensor_shape.unknown_rank:
        dims = [d.size for d in info.tensor_shape.dim]
        shape_ok = array.ndim == len(dims) and all(
            d < 0 or d == s for d, s in zip(dims, array.shape, strict=True)
        )
        if not shape_ok:
            raise invalid(
                f"input {alias}: shape {list(array.shape)} is not compatible with the "
                f"signature's shape {dims}"
            )
    return array


def _output_aliases(
    signature: meta_graph_pb2.SignatureDef, output_filter: Iterable[str]
) -> list[str]:
    wanted: list[str] = []
    for alias in output_filter:
        if alias not in signature.outputs:
            raise invalid(
                f"output tensor alias not found in signature: {alias} Outputs expected to be "
                f"in the set {{{','.join(sorted(signature.outputs))}}}."
            )
        if alias in wanted:
            raise invalid(f"duplicate output tensor alias: {alias}")
        wanted.append(alias)
    return wanted or list(signature.outputs)
