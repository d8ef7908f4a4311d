"""Synthetic performance results for the statistics, comparison and report tests.

:func:`make_document` builds a results document like a real run's, with latency samples
drawn from a log-normal distribution (seeded), so a test can make a candidate that is the
same, noisier, or slower by a known factor without running any load.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tfsverify.perf.document import build_document
from tfsverify.perf.metrics import latency_delta_metric, latency_metrics, scalar_metric
from tfsverify.perf.samples import encode_values_ms
from tfsverify.perf.thresholds import Thresholds, thresholds_from_dict

DATA = Path(__file__).parent / "data"
ENVIRONMENT = {"python": "3.11.7", "implementation": "cpython", "grpc": "1.85.0",
               "platform": "Linux-6.1-x86_64", "machine": "x86_64", "cpu_count": 2,
               "hostname_sha256": "0123456789abcdef", "target": "local", "tfsverify": "0.1.0"}


def latency_sample(rng: np.random.Generator, reps: int, seconds: int, per_second: int,
                   median_ms: float) -> list[list[str]]:
    """``reps`` repetitions of ``seconds`` encoded one-second histograms."""
    return [[encode_values_ms(rng.lognormal(np.log(median_ms), 0.35, per_second))
             for _ in range(seconds)] for _ in range(reps)]


def make_document(*, factor: float = 1.0, seed: int = 0, reps: int = 3, seconds: int = 6,
                  knees: tuple[float, ...] = (400.0, 410.0, 395.0),
                  added_ms: float | None = None,
                  environment: dict[str, Any] | None = None,
                  run_id: str = "perf-test") -> dict[str, Any]:
    """A results document: a 200 rps step (latency x ``factor``) and a knee per repetition;
    with ``added_ms``, a mesh overhead whose sidecar path adds that much to the direct one."""
    rng = np.random.default_rng(seed)
    samples = {"sweep/200rps": latency_sample(rng, reps, seconds, 200, 3.0 * factor)}
    metrics = [*latency_metrics("sweep.200rps", "sweep 200 rps", samples, "sweep/200rps"),
               scalar_metric("sweep.knee_rps", "knee", "rps", list(knees), better="higher")]
    if added_ms is not None:
        direct = [[rng.lognormal(np.log(2.5), 0.3, 100) for _ in range(seconds)]
                  for _ in range(2)]
        samples["mesh/direct"] = [[encode_values_ms(s) for s in rep] for rep in direct]
        samples["mesh/sidecar"] = [[encode_values_ms(rng.permutation(s) + added_ms)
                                    for s in rep] for rep in direct]
        metrics.append(latency_delta_metric("mesh.added_p50_ms", "added", samples,
                                            "mesh/sidecar", "mesh/direct", "p50"))
    return build_document(
        run_id=run_id, started_unix=1_790_000_000.0, ended_unix=1_790_000_100.0,
        environment=environment or dict(ENVIRONMENT), target={"kind": "local", "ready": 3},
        plan={"name": "test", "source": "test.yaml", "slo_p99_ms": 25.0}, parts={},
        samples=samples, metrics=metrics, engine_benchmark=None, warnings=[])


def thresholds(**overrides: Any) -> Thresholds:
    document: dict[str, Any] = {
        "version": 1, "resamples": 500, "permutations": 500,
        "rules": [{"match": "*.p99_ms", "regression_pct": 20},
                  {"match": "*.p90_ms", "regression_pct": 15},
                  {"match": "*.p50_ms", "regression_pct": 10},
                  {"match": "*.knee_rps", "regression_pct": 10}],
    }
    document.update(overrides)
    return thresholds_from_dict(document)


@pytest.fixture
def run_document() -> dict[str, Any]:
    """A real quick run's results (every part, the engine benchmark), recorded here."""
    document: dict[str, Any] = json.loads((DATA / "quick-run.json").read_text())
    return copy.deepcopy(document)
