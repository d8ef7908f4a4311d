"""The shipped golden set and its helpers (numpy only)."""

import json
from pathlib import Path

import numpy as np
import pytest

from tfsverify.errors import BadInput
from tfsverify.serving.golden import DEFAULT_PATH, load_golden


def test_shipped_golden_set_is_complete_and_separates_rows() -> None:
    for version in (1, 2):
        golden = load_golden(version=version)
        assert golden.model_name == "anomaly-detection"
        assert golden.input_name == "features" and golden.output_name == "score"
        assert golden.inputs.shape == (16, 16) and golden.inputs.dtype == np.float32
        assert golden.scores.shape == (16,)
        assert golden.anomalous.sum() == 8
        np.testing.assert_array_equal(golden.flags(golden.scores), golden.anomalous)


def test_versions_differ_by_far_more_than_the_tolerance() -> None:
    one, two = load_golden(version=1), load_golden(version=2)
    np.testing.assert_array_equal(one.inputs, two.inputs)
    for row in range(len(one)):
        assert not one.matches(two.scores[row : row + 1], one.scores[row : row + 1])


def test_batch_wraps_around() -> None:
    golden = load_golden()
    inputs, scores = golden.batch(5, offset=14)
    np.testing.assert_array_equal(inputs, golden.inputs[[14, 15, 0, 1, 2]])
    np.testing.assert_array_equal(scores, golden.scores[[14, 15, 0, 1, 2]])
    assert golden.batch(40)[0].shape == (40, 16)
    with pytest.raises(BadInput):
        golden.batch(0)


def test_matches_uses_both_tolerances_and_the_shape() -> None:
    golden = load_golden()
    expected = golden.scores[:4]
    assert golden.matches(expected * (1 + golden.rel_tol / 2), expected)
    assert not golden.matches(expected * (1 + golden.rel_tol * 3), expected)
    assert golden.matches(np.zeros(2) + golden.abs_tol / 2, np.zeros(2))
    assert not golden.matches(expected[:3], expected)
    assert not golden.matches(np.full(4, np.nan), expected)


def test_golden_file_is_float32_exact() -> None:
    doc = json.loads(DEFAULT_PATH.read_text())
    values = np.asarray(doc["inputs"], dtype=np.float64)
    np.testing.assert_array_equal(values.astype(np.float32).astype(np.float64), values)


def test_missing_or_malformed_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not found"):
        load_golden(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1, "versions": {}}')
    with pytest.raises(BadInput, match="version 1"):
        load_golden(bad)
    bad.write_text("{")
    with pytest.raises(BadInput, match=str(bad)):
        load_golden(bad)
    with pytest.raises(BadInput, match="no golden vectors for version 7"):
        load_golden(version=7)


def test_a_set_knows_the_other_versions_of_its_file() -> None:
    v1 = load_golden(version=1)
    v2 = v1.for_version(2)
    assert v2 is not None and v2.version == 2 and v1.for_version(1) is v1
    assert v1.for_version(3) is None
    assert v2.for_version(1) is not None and v2.for_version(1).version == 1  # type: ignore[union-attr]
    assert load_golden(version=2).versions == (2, 1)
    assert not np.allclose(v1.scores, v2.scores)
