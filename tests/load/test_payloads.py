"""Golden requests are serialised once; every answer is checked, byte-identical ones cheaply."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfsverify.load.payloads import Payloads
from tfsverify.serving.protos import predict_pb2
from tfsverify.serving.requests import tensor_array, tensor_proto


def answer(scores: np.ndarray, name: str = "score") -> bytes:
    response = predict_pb2.PredictResponse()
    response.outputs[name].CopyFrom(tensor_proto(np.asarray(scores, np.float32)))
    return response.SerializeToString()


def test_batches_rotate_over_the_golden_rows(golden: Any) -> None:
    payloads = Payloads(golden, batch_size=4, model_version=1)
    assert len(payloads) == len(golden) // 4
    request = predict_pb2.PredictRequest.FromString(payloads.bodies[1])
    assert request.model_spec.name == golden.model_name
    assert request.model_spec.version.value == 1
    np.testing.assert_array_equal(tensor_array(request.inputs["features"]), golden.inputs[4:8])
    np.testing.assert_array_equal(payloads.expected[1], golden.scores[4:8])


def test_right_wrong_and_malformed_answers(golden: Any) -> None:
    payloads = Payloads(golden)
    right = answer(golden.scores[:1])
    assert payloads.check(right, 0)
    assert payloads.check(right, 0)  # the remembered bytes
    assert not payloads.check(right, 1)  # right for batch 0 only
    assert not payloads.check(answer(golden.scores[:1] + 0.5), 0)
    assert not payloads.check(answer(golden.scores[:2]), 0)  # wrong shape
    assert not payloads.check(answer(golden.scores[:1], name="other"), 0)
    assert not payloads.check(b"\xff\x00garbage", 0)


def versioned_answer(scores: np.ndarray, version: int) -> bytes:
    response = predict_pb2.PredictResponse.FromString(answer(scores))
    response.model_spec.name = "anomaly-detection"
    response.model_spec.version.value = version
    return response.SerializeToString()


def test_each_answer_is_checked_against_the_version_that_gave_it(golden: Any) -> None:
    payloads = Payloads(golden)
    v2 = golden.for_version(2)
    assert v2 is not None and golden.versions == (1, 2)
    assert payloads.check(versioned_answer(golden.scores[:1], 1), 0)
    assert payloads.check(versioned_answer(v2.scores[:1], 2), 0)
    # version 2's numbers presented as version 1's, and the other way round, are wrong
    assert not payloads.check(versioned_answer(v2.scores[:1], 1), 0)
    assert not payloads.check(versioned_answer(golden.scores[:1], 2), 0)
    # a version the golden file does not know cannot be checked: wrong
    assert not payloads.check(versioned_answer(golden.scores[:1], 7), 0)
    # no version named: the golden set's own version applies
    assert not payloads.check(answer(v2.scores[:1]), 0)
