"""How each kind of assertion measures a window, and the extra inputs some kinds need.

Each judge returns ``(measured, detail)``: the number compared with the limit (``None`` when
there is nothing to judge, which fails) and one line for people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tfsverify.slo.measures import count
from tfsverify.slo.recovery import time_to_recover
from tfsverify.slo.schema import PERCENTILE_KINDS
from tfsverify.slo.series import HistogramCache, Row, Window, latency
from tfsverify.slo.sets import Assertion, SloSet

Measured = float | int | None


@dataclass(frozen=True)
class NewPod:
    """A pod that became ready during the run, and when it first answered correctly.

    ``first_correct_answer_unix`` is ``None`` when it never did.
    """

    pod: str
    became_ready_unix: float
    first_correct_answer_unix: float | None


PodTimes = tuple[str, float, float | None]


@dataclass(frozen=True)
class Extra:
    """Measurements the series does not hold, supplied by the caller.

    ``new_pods``: the pods that became ready during the run, as :class:`NewPod` or tuples
    ``(pod, became_ready_unix, first_correct_answer_unix)``; ``None`` when nobody measured
    them (then a ``time_to_first_correct_answer_s_max`` assertion fails as "not measured").
    """

    new_pods: Sequence[NewPod | PodTimes] | None = None

    def pods(self) -> tuple[NewPod, ...] | None:
        """``new_pods`` as :class:`NewPod` objects."""
        if self.new_pods is None:
            return None
        return tuple(p if isinstance(p, NewPod) else NewPod(*p) for p in self.new_pods)


@dataclass
class Context:
    rows: list[Row]
    windows: Mapping[str, Window]
    slo_set: SloSet
    extra: Extra
    cache: HistogramCache = field(default_factory=HistogramCache)


Outcome = tuple[Measured, str]


def _no_traffic(assertion: Assertion) -> str:
    return f"not enough traffic to judge: no requests in the {assertion.window} window"


def _availability(assertion: Assertion, rows: list[Row], _w: Window, _c: Context) -> Outcome:
    counts = count(rows)
    if counts.availability is None:
        return None, _no_traffic(assertion)
    lost = counts.sent - counts.ok
    if lost == 0:
        return 1.0, f"all {counts.sent} requests answered correctly"
    parts = []
    if counts.failed:
        parts.append(f"{counts.failed} of {counts.sent} requests failed ({counts.failures_text()})")
    if counts.wrong:
        parts.append(f"{counts.wrong} of {counts.sent} answered wrong")
    return counts.availability, "; ".join(parts)


def _wrong_rate(assertion: Assertion, rows: list[Row], _w: Window, _c: Context) -> Outcome:
    counts = count(rows)
    if counts.wrong_answer_rate is None:
        if counts.sent:
            return None, f"no answers to judge: all {counts.sent} requests failed"
        return None, _no_traffic(assertion)
    return (
        counts.wrong_answer_rate,
        f"{counts.wrong} of {counts.answered} answers wrong",
    )


def _error_rate(assertion: Assertion, rows: list[Row], _w: Window, _c: Context) -> Outcome:
    counts = count(rows)
    rate = counts.error_rate(assertion.status)
    if rate is None:
        return None, _no_traffic(assertion)
    failed = counts.failed_with(assertion.status)
    if assertion.status is not None:
        detail = f"{failed} of {counts.sent} requests failed with {assertion.status}"
        if isinstance(assertion.limit, tuple):
            low, high = assertion.limit
            detail += f" ({rate:.1%}; band {low:.1%} to {high:.1%})"
        return rate, detail
    detail = f"{failed} of {counts.sent} requests failed"
    return rate, detail + (f" ({counts.failures_text()})" if failed else "")


def _percentile(assertion: Assertion, rows: list[Row], _w: Window, context: Context) -> Outcome:
    percentile = PERCENTILE_KINDS[assertion.kind]
    measured = latency(rows, context.cache)
    label = f"p{percentile:g}"
    if measured.missing_rows:
        return None, (
            f"cannot compute an exact {label}: {measured.missing_rows} rows with answers "
            "have no latency histogram"
        )
    value = measured.percentile_ms(percentile)
    if value is None:
        if rows and count(rows).sent:
            return None, f"no answered requests in the {assertion.window} window: no latency"
        return None, _no_traffic(assertion)
    return value, f"{label} {value:g} ms over {measured.count} answered requests"


def _min_requests(assertion: Assertion, rows: list[Row], _w: Window, _c: Context) -> Outcome:
    sent = count(rows).sent
    if sent < assertion.bounds[0]:
        return sent, (
            f"not enough traffic to judge: {sent} requests in the {assertion.window} window, "
            f"need at least {assertion.limit}"
        )
    return sent, f"{sent} requests in the {assertion.window} window"


def _recovery(assertion: Assertion, _rows: list[Row], _w: Window, context: Context) -> Outcome:
    fault = context.windows.get("fault")
    if fault is None:
        return None, "no fault window in this run: nothing to recover from"
    result = time_to_recover(
        context.rows,
        fault[0],
        context.slo_set.rolling_window_s,
        assertion.availability_min,
        assertion.p99_ms_max,
        context.cache,
    )
    criteria = " and ".join(
        text
        for value, text in (
            (assertion.availability_min, f"availability >= {assertion.availability_min:g}"),
            (assertion.p99_ms_max, f"p99 <= {assertion.p99_ms_max:g} ms"),
        )
        if value is not None
    )
    rolling = f"every {result.rolling_window_s:g} s window met {criteria}"
    if result.windows_judged == 0:
        return None, (
            f"never recovered: the series ends less than {result.rolling_window_s:g} s "
            "after the fault started"
        )
    if result.time_to_recover_s is None:
        return None, (
            f"never recovered: the last {result.rolling_window_s:g} s window still had "
            f"{result.last_failure} (limits: {criteria})"
        )
    if result.last_failure is None:
        return 0.0, f"never degraded: {rolling} from the fault's start"
    return result.time_to_recover_s, (
        f"recovered {result.time_to_recover_s:g} s after the fault started: {rolling} from then "
        f"on (before: {result.last_failure})"
    )


def _first_answer(assertion: Assertion, _rows: list[Row], window: Window, ctx: Context) -> Outcome:
    pods = ctx.extra.pods()
    if pods is None:
        return None, "not measured: the run supplied no new-pod readiness data"
    start, end = window
    pods = tuple(p for p in pods if start <= p.became_ready_unix < end)
    if not pods:
        return None, f"no new pod became ready in the {assertion.window} window"
    never = [p.pod for p in pods if p.first_correct_answer_unix is None]
    if never:
        return None, f"{len(never)} of {len(pods)} new pods never answered correctly: {never[0]}"
    delays = {
        p.pod: max(0.0, p.first_correct_answer_unix - p.became_ready_unix)
        for p in pods
        if p.first_correct_answer_unix is not None
    }
    slowest = max(delays, key=lambda pod: delays[pod])
    return delays[slowest], (
        f"slowest of {len(pods)} new pods: {slowest} answered correctly "
        f"{delays[slowest]:g} s after it became ready"
    )


MEASURES = {
    "availability_min": _availability,
    "wrong_answer_rate_max": _wrong_rate,
    "error_rate_max": _error_rate,
    "error_rate_in_band": _error_rate,
    **dict.fromkeys(PERCENTILE_KINDS, _percentile),
    "min_requests": _min_requests,
    "time_to_recover_s_max": _recovery,
    "time_to_first_correct_answer_s_max": _first_answer,
}
