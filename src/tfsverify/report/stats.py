"""What each window of an experiment measured, from its per-second series (for display).

The verdicts in the document are the judgement; these numbers are the context the report
shows beside them. A series row belongs to the window in which its second *starts*
(``start_unix``); warm-up rows belong to no window. Latency percentiles of a window are
exact: the rows' HdrHistograms (``hdr``: encoded, microseconds) are merged, never averaged.
They cover answered requests only (status OK, right or wrong), like the load engine's.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException
from hdrh.histogram import HdrHistogram

WINDOW_ORDER = ("baseline", "fault", "recovery")
# the load engine's histogram range: 1 us .. 10 min, 3 significant digits
_LOWEST_US, _HIGHEST_US, _DIGITS = 1, 600_000_000, 3
_UNDECODABLE = (
    ValueError,  # binascii.Error too
    TypeError,
    zlib.error,
    HdrCookieException,
    HdrHistogramSettingsException,
    HdrLengthException,
)


@dataclass(frozen=True)
class WindowStats:
    """Counts and exact latency percentiles of the non-warm-up rows inside one window."""

    name: str
    start_unix: float
    end_unix: float
    rows: int
    sent: int
    ok: int
    wrong: int
    failed: int
    failed_by_status: Mapping[str, int]
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @property
    def availability(self) -> float | None:
        """ok / sent (a wrong answer is not ok); ``None`` when nothing was sent."""
        return self.ok / self.sent if self.sent else None


def windows_of(experiment: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """The experiment's windows as (name, start_unix, end_unix): baseline, fault, recovery
    first, then any others in the document's order; missing or null windows are left out."""
    windows = experiment.get("windows") or {}
    names = [n for n in WINDOW_ORDER if n in windows] + [
        n for n in windows if n not in WINDOW_ORDER
    ]
    out = []
    for name in names:
        span = windows.get(name)
        if span and len(span) == 2 and span[0] is not None and span[1] is not None:
            out.append((name, float(span[0]), float(span[1])))
    return out


def window_stats(experiment: Mapping[str, Any]) -> list[WindowStats]:
    """One :class:`WindowStats` per window of the experiment, in window order."""
    series = [row for row in experiment.get("series") or [] if not row.get("warmup")]
    out = []
    for name, start, end in windows_of(experiment):
        rows = [row for row in series if start <= float(row["start_unix"]) < end]
        out.append(_stats(name, start, end, rows))
    return out


def window_of(start_unix: float, windows: Sequence[tuple[str, float, float]]) -> str:
    """The name of the window in which ``start_unix`` lies, or ``""``."""
    for name, start, end in windows:
        if start <= start_unix < end:
            return name
    return ""


def merged_percentiles_ms(encoded: Iterable[str | None]) -> dict[str, float | None]:
    """p50/p99/max in ms of the merged histograms; all ``None`` when none holds a value.

    A histogram that does not decode is left out (the report still renders).
    """
    merged = HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)
    for text in encoded:
        if not text:
            continue
        try:
            merged.add(HdrHistogram.decode(text))
        except _UNDECODABLE:
            continue
    if merged.get_total_count() == 0:
        return {"p50": None, "p99": None, "max": None}
    values = merged.get_percentile_to_value_dict([50.0, 99.0])
    return {
        "p50": values[50.0] / 1000,
        "p99": values[99.0] / 1000,
        "max": merged.get_max_value() / 1000,
    }


def _stats(name: str, start: float, end: float, rows: list[dict[str, Any]]) -> WindowStats:
    by_status: dict[str, int] = {}
    for row in rows:
        for status, count in (row.get("failed_by_status") or {}).items():
            by_status[status] = by_status.get(status, 0) + int(count)
    pct = merged_percentiles_ms(row.get("hdr") for row in rows)
    return WindowStats(
        name=name,
        start_unix=start,
        end_unix=end,
        rows=len(rows),
        sent=sum(int(row.get("sent") or 0) for row in rows),
        ok=sum(int(row.get("ok") or 0) for row in rows),
        wrong=sum(int(row.get("wrong") or 0) for row in rows),
        failed=sum(int(row.get("failed") or 0) for row in rows),
        failed_by_status=dict(sorted(by_status.items(), key=lambda item: -item[1])),
        p50_ms=pct["p50"],
        p99_ms=pct["p99"],
        max_ms=pct["max"],
    )
