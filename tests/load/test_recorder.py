"""Counting: per-second bucketing, warm-up exclusion, and exact histogram merging."""

from __future__ import annotations

import random

from tfsverify.load.merge import merge_histograms, merge_series
from tfsverify.load.recorder import CLIENT_OVERLOAD, Recorder, new_histogram, percentiles_ms


def test_merged_histograms_give_the_percentiles_of_the_union() -> None:
    rng = random.Random(7)
    parts = [[rng.lognormvariate(7, 1.2) for _ in range(3000)] for _ in range(4)]
    union = new_histogram()
    encoded = []
    for values in parts:
        histogram = new_histogram()
        for value in values:
            histogram.record_value(int(value))
            union.record_value(int(value))
        encoded.append(histogram.encode())
    merged = merge_histograms(encoded)
    assert merged.get_total_count() == 12000
    assert percentiles_ms(merged) == percentiles_ms(union)
    for percentile in (1, 25, 50, 75, 90, 99, 99.9, 99.99, 100):
        assert merged.get_value_at_percentile(percentile) == union.get_value_at_percentile(
            percentile
        )


def test_requests_are_bucketed_by_the_second_they_were_due() -> None:
    recorder = Recorder(start_unix=1000.0)
    first = recorder.issue(0.2, warmup=False)
    second = recorder.issue(1.7, warmup=False)
    recorder.answered(second, False, latency_us=2_000, right=True)
    # answered long after its second ended: still counted in second 0
    recorder.answered(first, False, latency_us=1_500_000, right=False)
    later = recorder.issue(3.1, warmup=False)
    recorder.failed(later, False, "UNAVAILABLE", no_upstream=True)
    recorder.close_all()
    series = recorder.series()
    assert [row.index for row in series] == [0, 1, 2, 3]
    assert [row.start_unix for row in series] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert (series[0].sent, series[0].wrong) == (1, 1)
    assert abs(series[0].max_ms - 1500.0) <= 1500.0 * 0.001  # 3 significant digits
    assert (series[1].ok, series[1].p50_ms) == (1, 2.0)
    assert series[2].sent == 0 and series[2].p99_ms is None  # a quiet second is still a row
    assert series[3].failed_by_status == {"UNAVAILABLE": 1} and series[3].no_upstream == 1


def test_warmup_is_in_the_series_but_not_in_the_totals() -> None:
    recorder = Recorder(start_unix=0.0, warmup_s=1.0)
    for offset, warm in ((0.1, True), (0.5, True), (1.2, False)):
        index = recorder.issue(offset, warmup=warm)
        recorder.answered(index, warm, latency_us=1000 if warm else 5000, right=True)
    recorder.close_all()
    series = recorder.series()
    assert [row.warmup for row in series] == [True, False]
    assert [row.sent for row in series] == [2, 1]
    assert (recorder.totals.sent, recorder.totals.ok) == (1, 1)
    assert recorder.latency.get_total_count() == 1
    assert recorder.seen().sent == 3


def test_overload_counts_as_a_failure_with_its_own_status() -> None:
    recorder = Recorder(start_unix=0.0)
    for _ in range(3):
        recorder.failed(recorder.issue(0.0, False), False, CLIENT_OVERLOAD)
    totals = recorder.totals
    assert (totals.sent, totals.failed, totals.overload) == (3, 3, 3)
    assert totals.by_status == {CLIENT_OVERLOAD: 3}


def test_intervals_close_only_when_nothing_is_in_flight() -> None:
    recorder = Recorder(start_unix=0.0)
    pending = recorder.issue(0.5, False)
    done = recorder.issue(1.5, False)
    recorder.answered(done, False, 1000, True)
    recorder.issue(2.5, False)
    recorder.close_finished(before_index=2)
    assert [row.index for row in recorder.series()] == [1]  # second 0 waits for its answer
    recorder.answered(pending, False, 3000, True)
    recorder.close_finished(before_index=2)
    assert [row.index for row in recorder.series()] == [0, 1]


def test_series_of_workers_sum_per_second_with_merged_percentiles() -> None:
    recorders = [Recorder(start_unix=50.0, keep_histograms=True) for _ in range(2)]
    single = Recorder(start_unix=50.0)
    rng = random.Random(3)
    for number in range(400):
        offset, latency = rng.uniform(0, 3), rng.randint(100, 90_000)
        for recorder in (recorders[number % 2], single):
            recorder.answered(recorder.issue(offset, False), False, latency, right=True)
    for recorder in (*recorders, single):
        recorder.close_all()
    merged = merge_series([r.series() for r in recorders])
    expected = single.series()
    assert [row.sent for row in merged] == [row.sent for row in expected]
    assert [row.p99_ms for row in merged] == [row.p99_ms for row in expected]
    assert [row.max_ms for row in merged] == [row.max_ms for row in expected]
