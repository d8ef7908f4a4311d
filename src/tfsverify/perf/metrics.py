"""The metrics of a performance run: what a baseline comparison compares, one by one.

A metric is a mapping in the results document's ``metrics`` list:

``id``          stable name, compared across runs (``sweep.200rps.p99_ms``, ``mesh.added_p99_ms``)
``title``       what it is, in words
``unit``        ``ms``, ``s``, ``rps``, ``us``, ``pct``, ``MB/min``
``better``      ``lower`` or ``higher``
``kind``        ``latency``: a percentile of a latency sample (``samples`` names it in the
                document's ``samples``, ``percentile`` is 50/90/99); ``latency_delta``: the
                percentile of ``samples`` minus that of ``minus_samples`` (what the sidecar
                adds); ``scalar``: one value per repetition in ``values`` (``None`` where a
                repetition has none)
``value``       the run's figure: the pooled percentile, or the mean of the repetitions
``repetition_values``  the figure of each repetition
``gate``        ``False`` when the metric is reported but may not fail a comparison (a
                sweep step past the knee, whose latency is queueing, not service)
``note``        why, when something is worth saying
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfsverify.perf.samples import PERCENTILES, pooled_summary_ms

LATENCY_KEYS = ("p50", "p90", "p99")


def latency_metric(
    metric_id: str,
    title: str,
    samples: Mapping[str, Sequence[Sequence[str]]],
    key: str,
    percentile_key: str,
    *,
    gate: bool = True,
    note: str | None = None,
) -> dict[str, Any]:
    sample = samples[key]
    return {
        "id": metric_id,
        "title": title,
        "unit": "ms",
        "better": "lower",
        "kind": "latency",
        "samples": key,
        "percentile": PERCENTILES[percentile_key],
        "value": pooled_summary_ms(sample)[percentile_key],
        "repetition_values": [pooled_summary_ms([rep])[percentile_key] for rep in sample],
        "gate": gate,
        "note": note,
    }


def latency_metrics(
    prefix: str,
    title: str,
    samples: Mapping[str, Sequence[Sequence[str]]],
    key: str,
    *,
    gate: bool = True,
    note: str | None = None,
) -> list[dict[str, Any]]:
    """p50, p90 and p99 of one sample as three metrics ``<prefix>.p50_ms`` ..."""
    return [
        latency_metric(f"{prefix}.{pk}_ms", f"{title} {pk}", samples, key, pk, gate=gate,
                       note=note)
        for pk in LATENCY_KEYS
    ]


def latency_delta_metric(
    metric_id: str,
    title: str,
    samples: Mapping[str, Sequence[Sequence[str]]],
    key: str,
    minus_key: str,
    percentile_key: str,
) -> dict[str, Any]:
    """The percentile of ``key`` minus that of ``minus_key`` (repetitions paired in order)."""

    def value(sample: Sequence[Sequence[str]]) -> float | None:
        return pooled_summary_ms(sample)[percentile_key]

    reps = [_minus(value([b]), value([a]))
            for a, b in zip(samples[minus_key], samples[key], strict=True)]
    return {
        "id": metric_id,
        "title": title,
        "unit": "ms",
        "better": "lower",
        "kind": "latency_delta",
        "samples": key,
        "minus_samples": minus_key,
        "percentile": PERCENTILES[percentile_key],
        "value": _minus(value(samples[key]), value(samples[minus_key])),
        "repetition_values": reps,
        "gate": True,
        "note": None,
    }


def _minus(left: float | None, right: float | None) -> float | None:
    return None if left is None or right is None else round(left - right, 6)


def scalar_metric(
    metric_id: str,
    title: str,
    unit: str,
    values: Sequence[float | None],
    *,
    better: str = "lower",
    gate: bool = True,
    note: str | None = None,
) -> dict[str, Any]:
    known = [v for v in values if v is not None]
    return {
        "id": metric_id,
        "title": title,
        "unit": unit,
        "better": better,
        "kind": "scalar",
        "values": [None if v is None else round(float(v), 6) for v in values],
        "value": round(sum(known) / len(known), 6) if known else None,
        "repetition_values": list(values),
        "gate": gate,
        "note": note,
    }
