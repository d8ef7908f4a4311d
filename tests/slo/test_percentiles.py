"""Window percentiles are exact: merged HdrHistograms, never averaged per-second values."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from typing import Any

from hdrh.histogram import HdrHistogram

from tfsverify.slo import as_rows, latency, merge_histograms

Row = Callable[..., dict[str, Any]]


def one_histogram(values: list[int]) -> HdrHistogram:
    histogram = HdrHistogram(1, 600_000_000, 3)
    for value in values:
        histogram.record_value(value)
    return histogram


def test_merged_percentiles_equal_those_of_one_histogram_of_all_values(row: Row) -> None:
    rng = random.Random(7)
    per_second = [[rng.randint(800, 40_000) for _ in range(rng.randint(20, 60))] for _ in range(30)]
    rows = as_rows([row(s, values) for s, values in enumerate(per_second)])
    everything = one_histogram([v for values in per_second for v in values])
    measured = latency(rows)
    assert measured.count == everything.get_total_count()
    for percentile, value in (
        (50, measured.p50_ms),
        (90, measured.p90_ms),
        (99, measured.p99_ms),
        (99.9, measured.p99_9_ms),
    ):
        assert value == everything.get_value_at_percentile(percentile) / 1000
    assert measured.max_ms == everything.get_max_value() / 1000
    assert merge_histograms(rows).get_total_count() == everything.get_total_count()


def test_merged_p99_differs_from_the_average_of_per_second_p99s(row: Row) -> None:
    # nine calm seconds at 1 ms and one second where every answer took 100 ms
    per_second = [[1000] * 40 for _ in range(9)] + [[100_000] * 40]
    rows = as_rows([row(s, values) for s, values in enumerate(per_second)])
    per_second_p99 = [one_histogram(v).get_value_at_percentile(99) / 1000 for v in per_second]
    averaged = statistics.mean(per_second_p99)
    exact = latency(rows).p99_ms
    assert exact is not None
    assert abs(exact - 100) < 0.1  # 40 of 400 requests took 100 ms: the p99 is 100 ms
    assert abs(averaged - 10.9) < 0.1  # what averaging would have claimed
    assert latency(rows).p50_ms == one_histogram([1000]).get_value_at_percentile(50) / 1000


def test_microseconds_become_milliseconds_within_hdr_precision(row: Row) -> None:
    measured = latency(as_rows([row(0, [1500] * 99 + [8000])]))
    assert measured.p50_ms is not None and abs(measured.p50_ms - 1.5) <= 0.0015
    assert measured.max_ms is not None and abs(measured.max_ms - 8.0) <= 0.008


def test_histograms_as_bytes_merge_like_text(row: Row) -> None:
    as_text = row(0, [1200, 3400, 5600])
    as_bytes = {**as_text, "hdr": as_text["hdr"].encode("ascii")}
    assert latency(as_rows([as_bytes])) == latency(as_rows([as_text]))


def test_rows_without_answers_add_nothing(row: Row) -> None:
    rows = as_rows([row(0, [2000] * 10), row(1, [], failed={"UNAVAILABLE": 5})])
    assert latency(rows).count == 10
    empty = latency(as_rows([row(1, [], failed={"UNAVAILABLE": 5})]))
    assert (empty.count, empty.p99_ms) == (0, None)


def test_a_missing_histogram_makes_percentiles_unknown_not_wrong(row: Row) -> None:
    rows = as_rows([row(0, [1000] * 10), row(1, [900_000] * 10, hdr=False)])
    measured = latency(rows)
    assert measured.missing_rows == 1
    assert measured.p99_ms is None and measured.count == 20
