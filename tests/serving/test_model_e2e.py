"""The shipped SavedModels and the training CLI (real TensorFlow, in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfsverify.serving.golden import load_golden

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "reference-deploy" / "model"

# Loads each shipped version with tf.saved_model.load (as TF Serving's loader would), scores
# the golden rows, then runs the export CLI into a temporary directory.
SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
models, out = sys.argv[1], sys.argv[2]
golden = json.load(open(models + "/golden.json"))
rows = tf.constant(np.asarray(golden["inputs"], np.float32))
result = {}
for version in ("1", "2"):
    fn = tf.saved_model.load(f"{models}/anomaly-detection/{version}").signatures["serving_default"]
    outputs = fn(features=rows)
    result[version] = {
        "score": outputs["score"].numpy().tolist(),
        "reconstruction_shape": list(outputs["reconstruction"].shape),
        "inputs": {k: [v.dtype.name, v.shape.as_list()]
                   for k, v in fn.structured_input_signature[1].items()},
    }
from tfsverify.serving.model import main
main(["--out", out])
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, object]], Path]:
    out = tmp_path_factory.mktemp("export")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(MODELS), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), out


def test_shipped_savedmodels_answer_the_golden_vectors(run: tuple[dict, Path]) -> None:
    result, _ = run
    for version in (1, 2):
        golden = load_golden(version=version)
        got = result[str(version)]
        assert golden.matches(np.asarray(got["score"], np.float32), golden.scores)
        assert got["reconstruction_shape"] == [len(golden), 16]
        assert got["inputs"] == {"features": ["float32", [None, 16]]}


def test_shipped_models_are_small() -> None:
    size = sum(p.stat().st_size for p in MODELS.rglob("*") if p.is_file())
    assert size < 1_000_000


def test_export_cli_writes_the_serving_layout_and_a_consistent_golden_file(
    run: tuple[dict, Path],
) -> None:
    _, out = run
    for version in (1, 2):
        assert (out / "anomaly-detection" / str(version) / "saved_model.pb").is_file()
        assert (out / "anomaly-detection" / str(version) / "variables").is_dir()
    assert not list((out / "anomaly-detection").glob(".tmp-*"))
    for version in (1, 2):
        fresh = load_golden(out / "golden.json", version=version)
        np.testing.assert_array_equal(fresh.flags(fresh.scores), fresh.anomalous)
        assert fresh.threshold > fresh.scores[~fresh.anomalous].max()
