"""What the parts of the report conclude from their measurements (pure functions).

* **knee** of a step sweep: the offered rate at which p99 crosses the objective. Between
  the last step within the objective and the first step past it, p99 is interpolated
  linearly in log(p99); a step is also past it when its availability is below the minimum
  (then the knee is the last good step's rate). ``None`` when no step breaks it (the knee
  is above the sweep) or the first one already does (below it);
* **ramp knee**: the mean offered rate of the first rolling window whose p99 is over the
  objective or whose availability is under the minimum;
* **recovery** after a spike: seconds from the spike's end to the start of the first
  rolling window that meets the objective again (0 when the first one does; ``None`` when
  none does before the run ends);
* **drift** of a soak: the change of a percentile from the first third of the measured
  seconds to the last third, and least-squares slopes (per minute) of sampled values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tfsverify.perf.samples import merge, summary_ms


@dataclass(frozen=True)
class Row:
    """One second of a run: offset from the run's start, counts, its encoded histogram."""

    offset_s: int
    sent: int
    ok: int
    failed: int
    hdr: str | None

    @property
    def availability(self) -> float | None:
        return self.ok / self.sent if self.sent else None


@dataclass(frozen=True)
class Knee:
    knee_rps: float | None
    last_good_rps: float | None
    first_breaking_rps: float | None
    note: str


def sweep_knee(
    steps: Sequence[tuple[float, float | None, float | None]],
    slo_p99_ms: float,
    availability_min: float,
) -> Knee:
    """``steps``: (offered rate, p99 ms, availability) in rising rate order."""
    previous: tuple[float, float] | None = None
    for rate, p99, availability in steps:
        over = p99 is None or p99 > slo_p99_ms
        short = availability is not None and availability < availability_min
        if over or short:
            if previous is None:
                return Knee(None, None, rate,
                            f"p99 or availability already out of the objective at {rate:g} rps")
            last_rate, last_p99 = previous
            if over and p99 is not None and last_p99 > 0:
                share = (math.log(slo_p99_ms) - math.log(last_p99)) / (
                    math.log(p99) - math.log(last_p99))
                knee = last_rate + (rate - last_rate) * min(max(share, 0.0), 1.0)
            else:
                knee = last_rate
            return Knee(knee, last_rate, rate,
                        f"p99 crosses {slo_p99_ms:g} ms between {last_rate:g} and {rate:g} rps")
        assert p99 is not None
        previous = (rate, p99)
    top = steps[-1][0] if steps else None
    return Knee(None, top, None, f"within the objective up to the last step ({top:g} rps)")


def windows(rows: Sequence[Row], width: int) -> list[tuple[Row, list[Row]]]:
    """Rolling windows of ``width`` rows, one starting at each row (full windows only)."""
    return [(rows[i], list(rows[i : i + width])) for i in range(len(rows) - width + 1)]


def window_meets(group: Sequence[Row], slo_p99_ms: float, availability_min: float) -> bool:
    sent = sum(r.sent for r in group)
    ok = sum(r.ok for r in group)
    p99 = summary_ms(merge(r.hdr for r in group if r.hdr))["p99"]
    return sent > 0 and ok / sent >= availability_min and p99 is not None and p99 <= slo_p99_ms


def ramp_knee(
    rows: Sequence[Row], window_s: float, slo_p99_ms: float, availability_min: float
) -> float | None:
    """Mean offered rate of the first window out of the objective; ``None`` if none is."""
    for _, group in windows(rows, max(1, round(window_s))):
        if not window_meets(group, slo_p99_ms, availability_min):
            return sum(r.sent for r in group) / len(group)
    return None


def recovery_s(
    rows: Sequence[Row], spike_end_s: float, window_s: float, slo_p99_ms: float,
    availability_min: float,
) -> float | None:
    """Seconds after ``spike_end_s`` until the first window within the objective."""
    after = [r for r in rows if r.offset_s >= spike_end_s]
    for first, group in windows(after, max(1, round(window_s))):
        if window_meets(group, slo_p99_ms, availability_min):
            return float(first.offset_s - spike_end_s)
    return None


def thirds_drift_pct(seconds: Sequence[str], percentile_key: str) -> float | None:
    """Change (%) of a percentile from the first third of the seconds to the last third."""
    third = len(seconds) // 3
    if third < 1:
        return None
    first = summary_ms(merge(seconds[:third]))[percentile_key]
    last = summary_ms(merge(seconds[-third:]))[percentile_key]
    if not first or last is None:
        return None
    return (last / first - 1) * 100


def slope_per_min(times_s: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of ``values`` per minute; ``None`` with fewer than 3 points."""
    if len(times_s) < 3 or max(times_s) - min(times_s) <= 0:
        return None
    slope, _ = np.polyfit(np.asarray(times_s, float), np.asarray(values, float), 1)
    return float(slope) * 60
