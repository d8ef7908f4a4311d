"""Time to recover: how long after a fault started the service was back within its limits.

The clock starts at the start of the fault window. From the row in which the fault started,
every rolling window of ``rolling_window_s`` (whole rows, one starting at each row, up to
the last full one) is judged against the recovery criteria: availability at least
``availability_min`` and, merging the window's histograms, p99 at most ``p99_ms_max``. The
service recovered at the start of the first rolling window from which every later one meets
them too, so a relapse later in the run restarts the clock. It never recovered when the last
rolling window still fails, or when the series ends before one full rolling window.
"""

from __future__ import annotations

from dataclasses import dataclass

from tfsverify.slo.measures import count
from tfsverify.slo.series import HistogramCache, Row, latency, row_step_s


@dataclass(frozen=True)
class Recovery:
    """The outcome. ``time_to_recover_s`` is ``None`` when the service never recovered.

    ``last_failing_start_unix`` is the start of the latest rolling window that failed and
    ``last_failure`` says how ("availability 0.950", "p99 41.2 ms"); both ``None`` when no
    window failed.
    """

    time_to_recover_s: float | None
    recovered_unix: float | None
    rolling_window_s: float
    windows_judged: int
    last_failing_start_unix: float | None = None
    last_failure: str | None = None


def time_to_recover(
    rows: list[Row],
    fault_start_unix: float,
    rolling_window_s: float,
    availability_min: float | None,
    p99_ms_max: float | None,
    cache: HistogramCache | None = None,
) -> Recovery:
    """Judge the rolling windows of measured ``rows`` (time order) after ``fault_start_unix``."""
    measured = [row for row in rows if not row.warmup]
    step = row_step_s(measured)
    width = max(1, round(rolling_window_s / step))
    first = next(
        (i for i, row in enumerate(measured) if row.start_unix + step > fault_start_unix),
        len(measured),
    )
    last = len(measured) - width  # index of the last full rolling window
    cache = cache or HistogramCache()
    recovered: int | None = None
    failing: tuple[int, str] | None = None
    judged = 0
    for index in range(last, first - 1, -1):
        judged += 1
        failure = _failure(measured[index : index + width], availability_min, p99_ms_max, cache)
        if failure is not None:
            failing = (index, failure)
            break
        recovered = index
    return Recovery(
        time_to_recover_s=(
            None
            if recovered is None
            else max(0.0, measured[recovered].start_unix - fault_start_unix)
        ),
        recovered_unix=None if recovered is None else measured[recovered].start_unix,
        rolling_window_s=width * step,
        windows_judged=judged,
        last_failing_start_unix=None if failing is None else measured[failing[0]].start_unix,
        last_failure=None if failing is None else failing[1],
    )


def _failure(
    window: list[Row],
    availability_min: float | None,
    p99_ms_max: float | None,
    cache: HistogramCache,
) -> str | None:
    """Why a rolling window misses the criteria, ``None`` when it meets them."""
    counts = count(window)
    if counts.sent == 0:
        return "no requests"
    availability = counts.availability or 0.0
    if availability_min is not None and availability < availability_min:
        return f"availability {availability:.4f}"
    if p99_ms_max is not None:
        p99 = latency(window, cache).p99_ms
        if p99 is None:
            return "no exact p99 (no answers or no histograms)"
        if p99 > p99_ms_max:
            return f"p99 {p99:g} ms"
    return None
