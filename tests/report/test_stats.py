"""Window statistics: rows by window, warm-up excluded, exact latency from merged histograms."""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

from tfsverify.report.stats import merged_percentiles_ms, window_of, window_stats, windows_of


def _encoded(values_us: list[int]) -> str:
    histogram = HdrHistogram(1, 600_000_000, 3)
    for value in values_us:
        histogram.record_value(value)
    return histogram.encode().decode("ascii")


def test_windows_come_in_order_and_null_windows_are_left_out() -> None:
    exp = {"windows": {"recovery": [30, 40], "extra": [40, 41], "baseline": [0, 10], "fault": None}}
    assert [name for name, _, _ in windows_of(exp)] == ["baseline", "recovery", "extra"]
    assert window_of(35.0, windows_of(exp)) == "recovery"
    assert window_of(12.0, windows_of(exp)) == ""


def test_percentiles_are_exact_over_the_merged_histograms_not_averaged() -> None:
    # one fast second (99 x 1 ms) and one slow second (1 x 500 ms): p99 of the window is 1 ms
    # by the merged data, and the average of the seconds' p99s would be about 250 ms
    merged = merged_percentiles_ms([_encoded([1000] * 99), _encoded([500_000]), None])
    assert merged["p99"] is not None and 0.99 < merged["p99"] < 1.01
    assert merged["max"] is not None and 499 < merged["max"] < 501


def test_no_histogram_gives_no_percentiles_and_bad_ones_are_skipped() -> None:
    assert merged_percentiles_ms([None, None]) == {"p50": None, "p99": None, "max": None}
    merged = merged_percentiles_ms(["not base64!", "HISTFAAAA", _encoded([2000])])
    assert merged["p50"] is not None and 1.99 < merged["p50"] < 2.01


def test_window_stats_count_rows_of_each_window_without_warmup(document: dict[str, Any]) -> None:
    exp = document["experiments"][0]
    stats = {w.name: w for w in window_stats(exp)}
    assert list(stats) == ["baseline", "fault", "recovery"]
    fault_rows = [
        row
        for row in exp["series"]
        if exp["windows"]["fault"][0] <= row["start_unix"] < exp["windows"]["fault"][1]
    ]
    fault = stats["fault"]
    assert fault.rows == len(fault_rows) == 15
    assert fault.sent == sum(row["sent"] for row in fault_rows)
    assert fault.failed == sum(row["failed"] for row in fault_rows) > 0
    assert fault.failed_by_status["UNAVAILABLE"] > fault.failed_by_status["CLIENT_OVERLOAD"]
    assert fault.availability == fault.ok / fault.sent < 1
    # a second with nothing answered (hdr null) is counted and does not break the percentiles
    assert any(row["hdr"] is None for row in fault_rows)
    assert fault.p99_ms is not None and stats["baseline"].p99_ms is not None
    assert fault.p99_ms > 10 * stats["baseline"].p99_ms
    assert sum(w.rows for w in stats.values()) == len(exp["series"]) - 5  # 5 s warm-up


def test_availability_is_unknown_without_requests() -> None:
    exp = {"windows": {"baseline": [0, 10]}, "series": []}
    (baseline,) = window_stats(exp)
    assert baseline.sent == 0 and baseline.availability is None and baseline.p99_ms is None
