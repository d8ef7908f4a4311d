"""Series rows built the way the load engine builds them: real HdrHistograms in µs, encoded."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

T0 = 1_795_680_000.0  # a whole unix second, like the load engine's start plus an index

RowFactory = Callable[..., dict[str, Any]]
SeriesFactory = Callable[..., list[dict[str, Any]]]


def encoded(latencies_us: Iterable[int]) -> str | None:
    """An hdrh-encoded histogram (base64 ASCII) of ``latencies_us``; None when empty."""
    histogram = HdrHistogram(1, 600_000_000, 3)
    for value in latencies_us:
        histogram.record_value(value)
    if histogram.get_total_count() == 0:
        return None
    return histogram.encode().decode("ascii")


def build_row(
    second: int,
    latencies_us: Iterable[int] = (),
    *,
    wrong: int = 0,
    failed: dict[str, int] | None = None,
    warmup: bool = False,
    hdr: bool = True,
) -> dict[str, Any]:
    """Row ``second`` of a series starting at T0: one answer per latency, ``wrong`` of them
    wrong, plus ``failed`` requests by status. ``hdr=False`` drops the histogram."""
    values = list(latencies_us)
    failed = dict(failed or {})
    n_failed = sum(failed.values())
    return {
        "index": second,
        "start_unix": T0 + second,
        "warmup": warmup,
        "sent": len(values) + n_failed,
        "ok": len(values) - wrong,
        "wrong": wrong,
        "failed": n_failed,
        "overload": failed.get("CLIENT_OVERLOAD", 0),
        "no_upstream": 0,
        "failed_by_status": failed,
        "hdr": encoded(values) if hdr else None,
    }


def build_series(
    seconds: int,
    rps: int = 40,
    latency_us: int = 1500,
    *,
    warmup_s: int = 0,
    failures: dict[int, dict[str, int]] | None = None,
    slow: dict[int, int] | None = None,
    wrong: dict[int, int] | None = None,
) -> list[dict[str, Any]]:
    """``seconds`` rows of ``rps`` requests each. ``failures[s]`` fails some of second s's
    requests by status, ``slow[s]`` gives all of second s's answers that latency (µs), and
    ``wrong[s]`` answers that many wrong."""
    failures, slow, wrong = failures or {}, slow or {}, wrong or {}
    rows = []
    for second in range(seconds):
        failed = failures.get(second, {})
        answered = rps - sum(failed.values())
        value = slow.get(second, latency_us)
        rows.append(
            build_row(
                second,
                [value] * answered,
                wrong=wrong.get(second, 0),
                failed=failed,
                warmup=second < warmup_s,
            )
        )
    return rows


@pytest.fixture
def row() -> RowFactory:
    return build_row


@pytest.fixture
def series() -> SeriesFactory:
    return build_series


@pytest.fixture
def t0() -> float:
    return T0
