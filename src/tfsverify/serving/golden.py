"""Golden vectors: known inputs of the anomaly-detection model and the scores it must return.

A load generator sends golden rows and checks every answer, so a replica that serves wrong
numbers (a wrong version, a corrupted model) counts as a failure, not as a fast success.
This module needs numpy only (no TensorFlow).

``reference-deploy/model/golden.json`` (written by ``python -m tfsverify.serving.model``)::

    {
      "format": 1,
      "model_name": "anomaly-detection",
      "signature_name": "serving_default",
      "input_name": "features",            # the Predict input, float32 [n, 16]
      "output_name": "score",              # the Predict output checked, float32 [n]
      "tensorflow": "2.21.0",              # the TF that computed the scores
      "inputs": [[16 floats], ...],        # shared by every version; float32-exact
      "anomalous": [false, ..., true, ...],  # ground truth per row
      "versions": {
        "1": {"threshold": 0.21, "abs_tol": 1e-05, "rel_tol": 0.001, "scores": [...]},
        "2": {...}
      }
    }

A score matches when ``|got - expected| <= abs_tol + rel_tol * |expected|`` (``np.allclose``).
A row is anomalous when its score is above ``threshold``; the golden rows are on the right
side of it for their version. Every row's score differs between versions by far more than
the tolerance, so a golden check also tells which version answered. A set loaded for one
version carries the file's other versions too (:meth:`GoldenSet.for_version`), so that an
answer is checked against the version that gave it (TF Serving names it in the response's
``model_spec``): during a canary rollout both versions answer, and each must answer right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfsverify.errors import BadInput

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "reference-deploy" / "model" / "golden.json"


@dataclass(frozen=True)
class GoldenSet:
    """The golden rows of one model version and how to compare answers with them."""

    model_name: str
    version: int
    input_name: str
    output_name: str
    inputs: np.ndarray  # float32 [n, 16]
    scores: np.ndarray  # float32 [n]
    anomalous: np.ndarray  # bool [n]
    abs_tol: float
    rel_tol: float
    threshold: float
    signature_name: str = "serving_default"
    # the golden sets of the other versions in the same file, by version
    others: dict[int, GoldenSet] = field(default_factory=dict, repr=False, compare=False)

    def for_version(self, version: int) -> GoldenSet | None:
        """The golden set of ``version`` (this one or another of the same file), or None."""
        return self if version == self.version else self.others.get(version)

    @property
    def versions(self) -> tuple[int, ...]:
        """Every version this golden set can check answers of, this one first."""
        return (self.version, *sorted(self.others))

    def __len__(self) -> int:
        return len(self.scores)

    def batch(self, size: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``size`` rows starting at row ``offset`` (wrapping around) and their scores."""
        if size < 1:
            raise BadInput(f"golden batch size must be at least 1, got {size}")
        idx = (offset + np.arange(size)) % len(self.scores)
        return self.inputs[idx], self.scores[idx]

    def matches(self, got: np.ndarray, expected: np.ndarray) -> bool:
        """True when ``got`` has the shape of ``expected`` and is within the tolerances."""
        got = np.asarray(got)
        if got.shape != np.shape(expected):
            return False
        # np.allclose's rule, written out: about 10x cheaper per call for a load generator
        diff = np.abs(got - expected)
        return bool((diff <= self.abs_tol + self.rel_tol * np.abs(expected)).all())

    def flags(self, scores: np.ndarray) -> np.ndarray:
        """Which of ``scores`` mark an anomaly under this version's threshold."""
        return np.asarray(scores) > self.threshold


def load_golden(path: Path | None = None, version: int = 1) -> GoldenSet:
    """Read the golden set of ``version`` from ``path`` (default: the repository's copy)."""
    path = DEFAULT_PATH if path is None else Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise BadInput(
            f"{path}: golden file not found (run python -m tfsverify.serving.model)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: cannot read golden file: {exc}") from exc
    try:
        if doc["format"] != 1:
            raise BadInput(f"{path}: unsupported golden format {doc['format']!r} (expected 1)")
        versions = doc["versions"]
        if str(version) not in versions:
            known = ", ".join(sorted(versions))
            raise BadInput(f"{path}: no golden vectors for version {version} (have {known})")
        inputs = np.asarray(doc["inputs"], dtype=np.float32)
        anomalous = np.asarray(doc["anomalous"], dtype=bool)
        inputs.setflags(write=False)
        anomalous.setflags(write=False)
        sets = {int(key): _version_set(doc, int(key), entry, inputs, anomalous, path)
                for key, entry in versions.items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{path}: malformed golden file: {exc!r}") from exc
    for each in sets.values():
        each.others.update({v: other for v, other in sets.items() if v != each.version})
    return sets[version]


def _version_set(doc: dict[str, Any], version: int, entry: dict[str, Any],
                 inputs: np.ndarray, anomalous: np.ndarray, path: Path) -> GoldenSet:
    scores = np.asarray(entry["scores"], dtype=np.float32)
    n = len(scores)
    if n == 0 or inputs.ndim != 2 or inputs.shape[0] != n or anomalous.shape != (n,):
        raise BadInput(f"{path}: golden rows, scores and flags of version {version} "
                       "disagree in length")
    scores.setflags(write=False)
    return GoldenSet(
        model_name=str(doc["model_name"]),
        version=version,
        input_name=str(doc["input_name"]),
        output_name=str(doc["output_name"]),
        inputs=inputs,
        scores=scores,
        anomalous=anomalous,
        abs_tol=float(entry["abs_tol"]),
        rel_tol=float(entry["rel_tol"]),
        threshold=float(entry["threshold"]),
        signature_name=str(doc.get("signature_name", "serving_default")),
    )
