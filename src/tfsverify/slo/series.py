"""The load engine's per-second series as the SLO code reads it, and windows over it.

A series row is one second of load (the requests *due* in it): a mapping as in the results
document (``start_unix``, ``warmup``, ``sent``, ``ok``, ``wrong``, ``failed``,
``failed_by_status``, ``hdr``), or an object with those attributes such as the load engine's
``IntervalStats`` (whose encoded histogram is called ``histogram``). ``hdr`` is the second's
latencies in microseconds as an HdrHistogram, encoded by hdrh (base64 text or bytes), or
``None`` when nothing was answered in that second.

Warm-up rows are left out of every window.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from tfsverify.errors import BadInput

LOWEST_US = 1
HIGHEST_US = 600_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILE_KEYS = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99_9": 99.9}

Window = tuple[float, float]


@dataclass(frozen=True)
class Row:
    """One second of the series, normalised."""

    start_unix: float
    warmup: bool
    sent: int
    ok: int
    wrong: int
    failed: int
    failed_by_status: Mapping[str, int] = field(default_factory=dict)
    hdr: str | bytes | None = None

    @property
    def answered(self) -> int:
        """Requests that got status OK (right or wrong): the ones with a latency."""
        return self.ok + self.wrong


def as_row(item: Any) -> Row:
    """A :class:`Row` from a results-document mapping or an ``IntervalStats``-like object."""
    if isinstance(item, Row):
        return item
    try:
        hdr = _field(item, "hdr")
        return Row(
            start_unix=float(_field(item, "start_unix")),
            warmup=bool(_field(item, "warmup", False)),
            sent=int(_field(item, "sent", 0)),
            ok=int(_field(item, "ok", 0)),
            wrong=int(_field(item, "wrong", 0)),
            failed=int(_field(item, "failed", 0)),
            failed_by_status=dict(_field(item, "failed_by_status") or {}),
            hdr=_field(item, "histogram") if hdr is None else hdr,
        )
    except (TypeError, ValueError) as exc:
        raise BadInput(f"series row is malformed: {exc}") from exc


def _field(item: Any, key: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(key, default)
    return getattr(item, key, default)


def as_rows(series: Iterable[Any]) -> list[Row]:
    """The series as :class:`Row` objects in time order."""
    return sorted((as_row(item) for item in series), key=lambda row: row.start_unix)


def row_step_s(rows: Sequence[Row]) -> float:
    """Seconds between consecutive rows: the median spacing, 1 s when it cannot be told."""
    gaps = [b.start_unix - a.start_unix for a, b in itertools.pairwise(rows)]
    gaps = [gap for gap in gaps if gap > 0]
    return float(statistics.median(gaps)) if gaps else 1.0


def rows_in(series: Iterable[Any], window: Window) -> list[Row]:
    """The measured (non-warm-up) rows whose ``start_unix`` lies in ``[start, end)``."""
    start, end = window
    return [row for row in as_rows(series) if not row.warmup and start <= row.start_unix < end]


def new_histogram() -> HdrHistogram:
    """An empty latency histogram with the load engine's range (1 µs - 10 min) and precision."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


class HistogramCache:
    """Decodes each row's histogram once (time to recover merges the same rows many times)."""

    def __init__(self) -> None:
        self._decoded: dict[str | bytes, HdrHistogram] = {}

    def get(self, row: Row) -> HdrHistogram | None:
        if row.hdr is None:
            return None
        key = row.hdr
        if key not in self._decoded:
            try:
                self._decoded[key] = HdrHistogram.decode(row.hdr)
            except Exception as exc:  # hdrh raises TypeError, zlib.error and its own errors
                raise BadInput(
                    f"series row at {row.start_unix}: latency histogram does not decode: {exc}"
                ) from exc
        return self._decoded[key]


@dataclass(frozen=True)
class Latency:
    """Exact percentiles (ms) of the answered requests of some rows, from merged histograms.

    ``missing_rows`` counts rows with answers but no histogram: when it is not 0 the
    percentiles cannot be exact and are ``None``.
    """

    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p99_9_ms: float | None
    max_ms: float | None
    missing_rows: int = 0

    def percentile_ms(self, percentile: float) -> float | None:
        key = {50.0: "p50_ms", 90.0: "p90_ms", 99.0: "p99_ms", 99.9: "p99_9_ms"}[percentile]
        value: float | None = getattr(self, key)
        return value


def merge_histograms(rows: Iterable[Row], cache: HistogramCache | None = None) -> HdrHistogram:
    """One histogram holding every latency of ``rows`` (hdrh ``add``: exact, no averaging)."""
    cache = cache or HistogramCache()
    merged = new_histogram()
    for row in rows:
        histogram = cache.get(row)
        if histogram is not None and histogram.get_total_count():
            merged.add(histogram)
    return merged


def latency(rows: Sequence[Row], cache: HistogramCache | None = None) -> Latency:
    """The exact latency percentiles of ``rows`` by merging their histograms (µs -> ms)."""
    missing = sum(1 for row in rows if row.answered and row.hdr is None)
    if missing:
        return Latency(sum(r.answered for r in rows), None, None, None, None, None, missing)
    merged = merge_histograms(rows, cache)
    count = merged.get_total_count()
    if count == 0:
        return Latency(0, None, None, None, None, None)
    values = merged.get_percentile_to_value_dict(list(PERCENTILE_KEYS.values()))
    return Latency(
        count=count,
        p50_ms=values[50.0] / 1000,
        p90_ms=values[90.0] / 1000,
        p99_ms=values[99.0] / 1000,
        p99_9_ms=values[99.9] / 1000,
        max_ms=merged.get_max_value() / 1000,
    )
