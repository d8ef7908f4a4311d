"""Latency samples as the results document stores them: one histogram per measured second.

A *sample* is the measured seconds of one part (a sweep step, the sidecar path of the mesh
overhead, the soak), grouped by repetition: ``[[hdr, hdr, ...], [hdr, ...]]`` where each
``hdr`` is the second's latencies (µs) as an HdrHistogram encoded by hdrh (base64 text),
the same encoding the load engine and the chaos results use. Seconds in which nothing was
answered are left out. Keeping seconds apart lets a comparison resample them
(:mod:`tfsverify.perf.stats`); merging them gives exact percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from hdrh.histogram import HdrHistogram

from tfsverify.perf.resampling import Second

if TYPE_CHECKING:
    from tfsverify.load import IntervalStats

LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS = 1, 600_000_000, 3
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99_9": 99.9}
Sample = list[list[str]]


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def measured_seconds(
    series: Iterable[IntervalStats], start_s: float = 0.0, end_s: float = float("inf")
) -> list[str]:
    """Encoded histograms of the measured rows whose second starts in [start_s, end_s).

    ``start_s``/``end_s`` are seconds from the run's start (warm-up included); warm-up rows
    and rows without an answer are left out.
    """
    out = []
    for row in series:
        if row.warmup or not start_s <= row.index < end_s or row.histogram is None:
            continue
        if row.ok + row.wrong == 0:
            continue
        encoded = row.histogram
        out.append(encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded))
    return out


def merge(encoded: Iterable[str]) -> HdrHistogram:
    """One histogram of every given second."""
    total = new_histogram()
    for text in encoded:
        total.add(HdrHistogram.decode(text))
    return total


def summary_ms(histogram: HdrHistogram) -> dict[str, float | None]:
    """p50/p90/p99/p99.9/max (ms) and the count of a histogram; ``None`` when empty."""
    if histogram.get_total_count() == 0:
        return {**dict.fromkeys([*PERCENTILES, "max"]), "count": 0}
    values = histogram.get_percentile_to_value_dict(list(PERCENTILES.values()))
    out: dict[str, float | None] = {key: values[q] / 1000 for key, q in PERCENTILES.items()}
    out["max"] = histogram.get_max_value() / 1000
    out["count"] = histogram.get_total_count()
    return out


def pooled_summary_ms(sample: Sequence[Sequence[str]]) -> dict[str, float | None]:
    """The percentiles of every second of every repetition merged."""
    return summary_ms(merge(text for rep in sample for text in rep))


def decode_second(text: str) -> Second:
    """One second as (distinct values in ms, their counts), for the statistics."""
    histogram = HdrHistogram.decode(text)
    counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    nonzero = np.flatnonzero(counts)
    values = np.array(
        [histogram.get_highest_equivalent_value(histogram.get_value_from_index(int(i)))
         for i in nonzero],
        dtype=float,
    )
    return values / 1000.0, counts[nonzero].astype(float)


def decode_sample(sample: Sequence[Sequence[str]]) -> list[list[Second]]:
    return [[decode_second(text) for text in rep] for rep in sample if rep]


def encode_values_ms(values_ms: Iterable[float]) -> str:
    """A histogram of the given latencies (ms) encoded as the document stores it (tests)."""
    histogram = new_histogram()
    for value in values_ms:
        histogram.record_value(min(max(round(value * 1000), LOWEST_US), HIGHEST_US))
    encoded: Any = histogram.encode()
    return encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)
