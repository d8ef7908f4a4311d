"""What the load engine counts: totals, HDR latency histograms and a per-second time series.

Latencies are recorded in microseconds in HdrHistograms with 3 significant digits (every
value within 0.1 % of the truth) from 1 µs to 10 minutes; larger values are clamped to
10 minutes. A latency is measured from the request's *intended* send time, and only for
requests that got an answer (status OK, right or wrong); failed requests are counted by
status instead.

The time series has one :class:`IntervalStats` per second of the run, keyed by the second in
which each request was *due*, so a fault window's requests and their outcomes sit together.
Warm-up seconds are in the series (flagged) but not in the totals. ``retries`` counts the
extra tries the route's retry policy made (a request answered on its second try is one
``ok`` and one retry).

Histograms are exported encoded (HdrHistogram's compressed form) so that the results of
several worker processes merge exactly: see :mod:`tfsverify.load.merge`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 600_000_000
SIGNIFICANT_DIGITS = 3
CLIENT_OVERLOAD = "CLIENT_OVERLOAD"
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    """An empty latency histogram with the engine's range and precision."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def percentiles_ms(histogram: HdrHistogram, mean: bool = False) -> dict[str, float | None]:
    """p50/p90/p99/p99.9/max in ms, and the mean if asked (slow: about 50 ms).

    All ``None`` when nothing was recorded.
    """
    keys = ["p50", "p90", "p99", "p99_9", "max", *(["mean"] if mean else [])]
    if histogram.get_total_count() == 0:
        return dict.fromkeys(keys)
    values = histogram.get_percentile_to_value_dict(list(PERCENTILES))
    out: dict[str, float | None] = {
        "p50": values[50.0] / 1000,
        "p90": values[90.0] / 1000,
        "p99": values[99.0] / 1000,
        "p99_9": values[99.9] / 1000,
    }
    out["max"] = histogram.get_max_value() / 1000
    if mean:
        out["mean"] = round(histogram.get_mean_value() / 1000, 3)
    return out


@dataclass
class Counts:
    """Outcome counters. ``sent`` counts every request the schedule issued."""

    sent: int = 0
    ok: int = 0
    wrong: int = 0
    failed: int = 0
    overload: int = 0
    no_upstream: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    retries: int = 0

    def add(self, other: Counts) -> None:
        self.sent += other.sent
        self.ok += other.ok
        self.wrong += other.wrong
        self.failed += other.failed
        self.overload += other.overload
        self.no_upstream += other.no_upstream
        self.by_status.update(other.by_status)
        self.retries += other.retries


@dataclass(frozen=True)
class IntervalStats:
    """One second of the run: counts of the requests due in it and their latency percentiles."""

    index: int
    start_unix: float
    warmup: bool
    sent: int
    ok: int
    wrong: int
    failed: int
    overload: int
    no_upstream: int
    failed_by_status: dict[str, int]
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    histogram: bytes | None = None  # encoded, kept only when results are to be merged
    retries: int = 0  # extra tries of the requests due in this second


class _OpenInterval:
    __slots__ = ("counts", "histogram", "pending", "warmup")

    def __init__(self, histogram: HdrHistogram, warmup: bool) -> None:
        self.counts = Counts()
        self.histogram = histogram
        self.pending = 0
        self.warmup = warmup


class Recorder:
    """Counts outcomes as they happen; one per engine (one per worker process)."""

    def __init__(
        self, start_unix: float, warmup_s: float = 0.0, keep_histograms: bool = False
    ) -> None:
        self.start_unix = start_unix
        self.warmup_s = warmup_s
        self.keep_histograms = keep_histograms
        self.totals = Counts()
        self.latency = new_histogram()
        self.send_lag = new_histogram()
        self.in_flight = 0
        self._open: dict[int, _OpenInterval] = {}
        self._closed: dict[int, IntervalStats] = {}
        self._closed_sum = Counts()

    # -- the hot path ---------------------------------------------------------------

    def issue(self, offset_s: float, warmup: bool) -> int:
        """A request became due at ``offset_s``: count it sent; returns its interval."""
        index = int(offset_s)
        interval = self._open.get(index)
        if interval is None:
            interval = self._open[index] = _OpenInterval(new_histogram(), index < self.warmup_s)
        interval.counts.sent += 1
        interval.pending += 1
        if not warmup:
            self.totals.sent += 1
        return index

    def sent_late_us(self, lag_us: int, warmup: bool) -> None:
        """How late (µs) a request left after its intended time: the client's own delay."""
        if not warmup:
            self.send_lag.record_value(min(max(lag_us, LOWEST_US), HIGHEST_US))

    def answered(self, index: int, warmup: bool, latency_us: int, right: bool) -> None:
        """A request got status OK after ``latency_us`` (from its intended time)."""
        value = min(max(latency_us, LOWEST_US), HIGHEST_US)
        interval = self._open[index]
        interval.pending -= 1
        interval.histogram.record_value(value)
        counts = interval.counts
        if right:
            counts.ok += 1
        else:
            counts.wrong += 1
        if not warmup:
            self.latency.record_value(value)
            if right:
                self.totals.ok += 1
            else:
                self.totals.wrong += 1

    def failed(self, index: int, warmup: bool, status: str, no_upstream: bool = False) -> None:
        """A request failed with gRPC status ``status`` (or ``CLIENT_OVERLOAD``)."""
        interval = self._open[index]
        interval.pending -= 1
        _count_failure(interval.counts, status, no_upstream)
        if not warmup:
            _count_failure(self.totals, status, no_upstream)

    def retried(self, index: int, warmup: bool) -> None:
        """A request due in interval ``index`` is tried once more (route retry policy)."""
        self._open[index].counts.retries += 1
        if not warmup:
            self.totals.retries += 1

    # -- intervals --------------------------------------------------------------------

    def close_finished(self, before_index: int) -> None:
        """Finalise the intervals before ``before_index`` that have nothing in flight."""
        for index in sorted(self._open):
            if index >= before_index:
                break
            if self._open[index].pending == 0:
                self._close(index)

    def close_all(self) -> None:
        for index in sorted(self._open):
            self._close(index)

    def seen(self) -> Counts:
        """Counts over the whole run so far, warm-up included (for progress)."""
        counts = Counts()
        counts.add(self._closed_sum)
        for interval in self._open.values():
            counts.add(interval.counts)
        return counts

    def sent_in(self, index: int) -> int:
        """Requests due in second ``index`` of the run."""
        if index in self._open:
            return self._open[index].counts.sent
        closed = self._closed.get(index)
        return closed.sent if closed is not None else 0

    def series(self) -> list[IntervalStats]:
        """The closed intervals in time order; seconds in which nothing was due are empty rows."""
        last = max(self._closed, default=-1)
        return [
            self._closed.get(index) or self._empty(index)
            for index in range(last + 1)
            if index not in self._open
        ]

    def _empty(self, index: int) -> IntervalStats:
        return IntervalStats(
            index,
            self.start_unix + index,
            index < self.warmup_s,
            0,
            0,
            0,
            0,
            0,
            0,
            {},
            None,
            None,
            None,
            None,
        )

    def _close(self, index: int) -> None:
        interval = self._open.pop(index)
        counts, histogram = interval.counts, interval.histogram
        self._closed_sum.add(counts)
        pct = percentiles_ms(histogram)
        self._closed[index] = IntervalStats(
            index=index,
            start_unix=self.start_unix + index,
            warmup=interval.warmup,
            sent=counts.sent,
            ok=counts.ok,
            wrong=counts.wrong,
            failed=counts.failed,
            overload=counts.overload,
            no_upstream=counts.no_upstream,
            failed_by_status=dict(counts.by_status),
            p50_ms=pct["p50"],
            p90_ms=pct["p90"],
            p99_ms=pct["p99"],
            max_ms=pct["max"],
            histogram=histogram.encode() if self.keep_histograms else None,
            retries=counts.retries,
        )


def _count_failure(counts: Counts, status: str, no_upstream: bool) -> None:
    counts.failed += 1
    counts.by_status[status] += 1
    if status == CLIENT_OVERLOAD:
        counts.overload += 1
    if no_upstream:
        counts.no_upstream += 1
