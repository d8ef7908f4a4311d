"""Verdicts: each assertion of an SLO set judged on the windows of one run.

:func:`evaluate` returns one :class:`Verdict` per assertion, in the set's order, with the
fields of the results document (``summary.json``). A window with no requests (or no answers,
for latency) fails with ``measured`` ``None``: having nothing to judge is never a pass.
:func:`overall` folds them into the run's verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from tfsverify.slo.judges import MEASURES, Context, Extra, Measured
from tfsverify.slo.series import as_rows
from tfsverify.slo.sets import Assertion, SloSet
from tfsverify.slo.windows import window_rows


@dataclass(frozen=True)
class Verdict:
    """One assertion judged: ``id`` is ``<experiment>.<window>.<assertion>``.

    ``limit`` is a number, or ``[min, max]`` for the comparison ``"in"``; ``detail`` is one
    line for people ("7 of 1000 requests failed (UNAVAILABLE 7)").
    """

    id: str
    assertion: str
    window: str
    measured: Measured
    limit: float | int | list[float]
    comparison: str
    unit: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The verdict as it appears in ``summary.json``."""
        return asdict(self)


def evaluate(
    slo_set: SloSet,
    series: Iterable[Any],
    windows: Mapping[str, Sequence[float]],
    extra: Extra | None = None,
    *,
    experiment: str | None = None,
) -> list[Verdict]:
    """Judge every assertion of ``slo_set`` on ``series`` split by ``windows``.

    ``windows`` maps window names to ``(start_unix, end_unix)`` (see :func:`split_windows`);
    an assertion on a window that is missing fails. ``experiment`` prefixes the verdict ids
    (default: the set's name).
    """
    context = Context(
        rows=as_rows(series),
        windows={name: (float(w[0]), float(w[1])) for name, w in windows.items()},
        slo_set=slo_set,
        extra=extra or Extra(),
    )
    prefix = experiment or slo_set.name
    return [_judge(assertion, context, prefix) for assertion in slo_set.assertions]


def overall(verdicts: Iterable[Verdict]) -> Literal["pass", "breach"]:
    """``"breach"`` when any verdict failed, else ``"pass"`` (also for no verdicts)."""
    return "pass" if all(verdict.passed for verdict in verdicts) else "breach"


def _judge(assertion: Assertion, context: Context, prefix: str) -> Verdict:
    window = context.windows.get(assertion.window)
    if window is None:
        measured, detail = None, f"no {assertion.window} window in this run: nothing to judge"
    else:
        rows = window_rows(context.rows, window)
        measured, detail = MEASURES[assertion.kind](assertion, rows, window, context)
    limit: float | int | list[float] = (
        list(assertion.limit) if isinstance(assertion.limit, tuple) else assertion.limit
    )
    return Verdict(
        id=f"{prefix}.{assertion.key}",
        assertion=assertion.name,
        window=assertion.window,
        measured=_rounded(measured, assertion.unit),
        limit=limit,
        comparison=assertion.comparison,
        unit=assertion.unit,
        passed=_passes(measured, assertion),
        detail=detail,
    )


def _passes(measured: Measured, assertion: Assertion) -> bool:
    if measured is None:
        return False
    low, high = assertion.bounds
    return low <= measured <= high


def _rounded(measured: Measured, unit: str) -> Measured:
    """Measured values as reported: ratios to 6 decimals, ms and s to 3 (µs, ms)."""
    if measured is None or isinstance(measured, int):
        return measured
    return round(measured, 6 if unit == "ratio" else 3)
