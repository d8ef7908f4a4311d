"""SLO sets: what a run must show, as validated frozen dataclasses.

Build one with :func:`slo_set_from_dict` (a parsed document) or
:func:`tfsverify.slo.load_slo_set` (a YAML file). Both check the document against
:mod:`tfsverify.slo.schema` and then the rules a schema cannot express: a band's lower bound
is not above its upper one, every verdict id is unique, and a ``time_to_recover_s_max``
assertion knows which limits "recovered" means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tfsverify.errors import BadInput
from tfsverify.slo.schema import PERCENTILE_KINDS, slo_errors

DEFAULT_ROLLING_WINDOW_S = 5.0

# comparison and unit of each kind's verdict
COMPARISONS: dict[str, tuple[str, str]] = {
    "availability_min": (">=", "ratio"),
    "wrong_answer_rate_max": ("<=", "ratio"),
    "error_rate_max": ("<=", "ratio"),
    **{kind: ("<=", "ms") for kind in PERCENTILE_KINDS},
    "time_to_recover_s_max": ("<=", "s"),
    "time_to_first_correct_answer_s_max": ("<=", "s"),
    "error_rate_in_band": ("in", "ratio"),
    "min_requests": (">=", "requests"),
}


@dataclass(frozen=True)
class Assertion:
    """One limit on one window. ``limit`` is a ``(min, max)`` pair for ``error_rate_in_band``.

    ``availability_min`` and ``p99_ms_max`` are the recovery criteria of a
    ``time_to_recover_s_max`` assertion; each one the file leaves out is taken from the set's
    baseline assertion of that kind. ``None`` for other kinds or when a criterion is not used.
    """

    kind: str
    window: str
    name: str
    limit: float | tuple[float, float]
    status: str | None = None
    availability_min: float | None = None
    p99_ms_max: float | None = None
    description: str = ""

    @property
    def comparison(self) -> str:
        return COMPARISONS[self.kind][0]

    @property
    def unit(self) -> str:
        return COMPARISONS[self.kind][1]

    @property
    def bounds(self) -> tuple[float, float]:
        """The accepted ``(min, max)``: the band, or the limit with the other side open."""
        if isinstance(self.limit, tuple):
            return self.limit
        if self.comparison == ">=":
            return float(self.limit), math.inf
        return -math.inf, float(self.limit)

    @property
    def key(self) -> str:
        """``<window>.<name>``: the verdict id without the experiment."""
        return f"{self.window}.{self.name}"


@dataclass(frozen=True)
class SloSet:
    """A named list of assertions; ``rolling_window_s`` is used by time to recover."""

    name: str
    assertions: tuple[Assertion, ...]
    description: str = ""
    rolling_window_s: float = DEFAULT_ROLLING_WINDOW_S
    source: str | None = None


def default_name(kind: str, status: str | None) -> str:
    """The assertion name a kind gets when the file gives none (``p99_ms_max`` -> ``p99_ms``)."""
    base = kind.removesuffix("_min").removesuffix("_max")
    if status is None:
        return base
    if kind == "error_rate_in_band":
        return f"error_rate_{status.lower()}_in_band"
    return f"{base}_{status.lower()}"


def slo_set_from_dict(document: Any, source: str | None = None) -> SloSet:
    """Validate ``document`` and build the :class:`SloSet`.

    Raises :class:`~tfsverify.errors.BadInput` with one line, ``<source>: <field.path>:
    <problem>``, for the first problem found.
    """
    where = f"{source}: " if source else ""
    problems = slo_errors(document)
    if problems:
        raise BadInput(f"{where}{problems[0]}")
    assertions = [_assertion(item) for item in document["assertions"]]
    seen: dict[str, int] = {}
    for index, assertion in enumerate(assertions):
        if assertion.kind == "error_rate_in_band":
            low, high = assertion.bounds
            if low > high:
                raise BadInput(f"{where}assertions[{index}].limit: {low} is above {high}")
        if assertion.key in seen:
            raise BadInput(
                f"{where}assertions[{index}].name: '{assertion.key}' is also assertions"
                f"[{seen[assertion.key]}]; give one of them another name"
            )
        seen[assertion.key] = index
    baseline = {a.kind: a.limit for a in assertions if a.window == "baseline"}
    for index, assertion in enumerate(assertions):
        if assertion.kind == "time_to_recover_s_max":
            assertions[index] = _with_recovery_limits(assertion, baseline, f"{where}", index)
    return SloSet(
        name=document["name"],
        assertions=tuple(assertions),
        description=document.get("description", "").strip(),
        rolling_window_s=float(document.get("rolling_window_s", DEFAULT_ROLLING_WINDOW_S)),
        source=source,
    )


def _assertion(item: Mapping[str, Any]) -> Assertion:
    kind, status = item["kind"], item.get("status")
    raw = item["limit"]
    limit: float | tuple[float, float] = (
        (float(raw[0]), float(raw[1])) if isinstance(raw, list) else float(raw)
    )
    if kind == "min_requests":
        limit = int(raw)
    return Assertion(
        kind=kind,
        window=item["window"],
        name=item.get("name") or default_name(kind, status),
        limit=limit,
        status=status,
        availability_min=item.get("availability_min"),
        p99_ms_max=item.get("p99_ms_max"),
        description=item.get("description", "").strip(),
    )


def _with_recovery_limits(
    assertion: Assertion, baseline: Mapping[str, Any], where: str, index: int
) -> Assertion:
    availability = assertion.availability_min
    if availability is None:
        availability = baseline.get("availability_min")
    p99 = assertion.p99_ms_max
    if p99 is None:
        p99 = baseline.get("p99_ms_max")
    if availability is None and p99 is None:
        raise BadInput(
            f"{where}assertions[{index}]: time_to_recover_s_max needs availability_min or "
            "p99_ms_max, in the assertion or as baseline assertions of the set"
        )
    return replace(
        assertion,
        availability_min=None if availability is None else float(availability),
        p99_ms_max=None if p99 is None else float(p99),
    )
