"""Splitting a run into windows: baseline, fault, recovery, and the whole measured run.

The windows come from the Chaos Toolkit journal's activity times (or are given
explicitly):

* ``baseline``: load start (after warm-up) -> first method action start
* ``fault``: first method action start -> last method action end, extended to the last
  rollback's end when the experiment has rollbacks (a fault such as an injected abort or a
  cordoned node persists until it is rolled back)
* ``recovery``: fault end -> load end
* ``whole``: load start (after warm-up) -> load end

When the method has no action, its probes mark the fault; when it has no activity at all,
there is no fault window and the baseline is the whole run.

The series has one row per second, and a row belongs to a window when its ``start_unix`` is
in ``[start, end)``. So that a short fault (a pod killed in 50 ms) still owns the seconds it
touched, the fault window is widened to whole rows: its start moves down and its end up to
row boundaries (``snap=True``, the default). The requests of the second in which a fault
began are then judged as fault traffic, never as baseline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tfsverify.errors import BadInput
from tfsverify.slo.series import Row, Window, as_rows, row_step_s

_EPSILON = 1e-6


def split_windows(
    series: Iterable[Any],
    activities: Sequence[Mapping[str, Any]] | None = None,
    *,
    fault: Window | None = None,
    include_rollbacks: bool = True,
    snap: bool = True,
) -> dict[str, Window]:
    """The windows of a run, as ``{"baseline": (start, end), ...}`` in unix seconds.

    Give either ``activities`` (the results document's activity list: ``phase``, ``type``,
    ``start_unix``, ``end_unix``) or an explicit ``fault`` window. Returns ``{}`` when the
    series has no measured row (then every assertion fails: nothing to judge).
    """
    if (activities is None) == (fault is None):
        raise ValueError("give exactly one of activities or fault")
    rows = [row for row in as_rows(series) if not row.warmup]
    if not rows:
        return {}
    step = row_step_s(rows)
    load_start, load_end = rows[0].start_unix, rows[-1].start_unix + step
    whole = (load_start, load_end)
    if fault is None:
        fault = fault_from_activities(activities or (), include_rollbacks)
        if fault is None:
            return {"baseline": whole, "whole": whole}
    start, end = fault
    if end < start:
        raise BadInput(f"fault window ends ({end}) before it starts ({start})")
    if snap:
        start, end = _snap(start, end, load_start, step)
    start = min(max(start, load_start), load_end)
    end = min(max(end, start), load_end)
    return {
        "baseline": (load_start, start),
        "fault": (start, end),
        "recovery": (end, load_end),
        "whole": whole,
    }


def fault_from_activities(
    activities: Iterable[Mapping[str, Any]], include_rollbacks: bool = True
) -> Window | None:
    """``(start, end)`` of the fault from journal activities, ``None`` with no method."""
    method = [a for a in activities if a.get("phase") == "method"]
    marking = [a for a in method if a.get("type") == "action"] or method
    if not marking:
        return None
    try:
        start = min(float(a["start_unix"]) for a in marking)
        end = max(float(a["end_unix"]) for a in marking)
        if include_rollbacks:
            rollbacks = [
                float(a["end_unix"])
                for a in activities
                if a.get("phase") == "rollback" and a.get("type", "action") == "action"
            ]
            end = max([end, *rollbacks])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"activity without usable start_unix/end_unix: {exc}") from exc
    return start, end


def _snap(start: float, end: float, origin: float, step: float) -> Window:
    first = math.floor((start - origin) / step + _EPSILON)
    last = math.ceil((end - origin) / step - _EPSILON)
    last = max(last, first + 1)
    return origin + first * step, origin + last * step


def window_rows(rows: Sequence[Row], window: Window) -> list[Row]:
    """The measured rows of already-sorted ``rows`` that start in ``[start, end)``."""
    start, end = window
    return [row for row in rows if not row.warmup and start <= row.start_unix < end]
