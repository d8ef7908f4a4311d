"""Building Predict requests and reading answers without TensorFlow."""

import subprocess
import sys

import numpy as np
import pytest

from tfsverify.errors import BadInput, TargetError
from tfsverify.serving.protos import predict_pb2, types_pb2
from tfsverify.serving.requests import output_array, predict_request, tensor_array, tensor_proto


def test_predict_request_carries_spec_and_raw_float32_tensor() -> None:
    rows = np.arange(32, dtype=np.float64).reshape(2, 16)
    request = predict_request("anomaly-detection", rows, version=2)
    assert request.model_spec.name == "anomaly-detection"
    assert request.model_spec.version.value == 2
    assert request.model_spec.signature_name == "serving_default"
    tensor = request.inputs["features"]
    assert tensor.dtype == types_pb2.DT_FLOAT
    assert [d.size for d in tensor.tensor_shape.dim] == [2, 16]
    assert len(tensor.tensor_content) == 2 * 16 * 4
    np.testing.assert_array_equal(tensor_array(tensor), rows.astype(np.float32))


def test_label_or_latest_version() -> None:
    labelled = predict_request("m", np.zeros((1, 16)), version_label="canary", input_name="x")
    assert labelled.model_spec.version_label == "canary"
    assert not labelled.model_spec.HasField("version")
    assert "x" in labelled.inputs
    latest = predict_request("m", np.zeros((1, 16)))
    assert latest.model_spec.WhichOneof("version_choice") is None
    with pytest.raises(BadInput):
        predict_request("m", np.zeros((1, 16)), version=1, version_label="stable")


def test_output_array_reads_typed_values_and_tensor_content() -> None:
    response = predict_pb2.PredictResponse()
    typed = response.outputs["score"]
    typed.dtype = types_pb2.DT_FLOAT
    typed.tensor_shape.dim.add().size = 3
    typed.float_val.extend([0.5, 1.5, 2.5])
    response.outputs["reconstruction"].CopyFrom(tensor_proto(np.ones((3, 16), np.float32)))
    np.testing.assert_array_equal(output_array(response), np.array([0.5, 1.5, 2.5], np.float32))
    assert output_array(response, "reconstruction").shape == (3, 16)


def test_repeated_last_value_and_errors() -> None:
    response = predict_pb2.PredictResponse()
    short = response.outputs["score"]
    short.dtype = types_pb2.DT_FLOAT
    short.tensor_shape.dim.add().size = 4
    short.float_val.append(7.0)
    np.testing.assert_array_equal(output_array(response), np.full(4, 7.0, np.float32))
    short.float_val.extend([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TargetError, match="score"):
        output_array(response)
    with pytest.raises(TargetError, match="no output 'missing'"):
        output_array(response, "missing")
    with pytest.raises(BadInput):
        tensor_proto(np.array(["a"]))


def test_importing_requests_and_golden_does_not_load_tensorflow() -> None:
    code = (
        "import sys, tfsverify.serving.requests, tfsverify.serving.golden, "
        "tfsverify.serving.config; "
        "print(any(m.startswith('tensorflow.python') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
