"""The results document digested into what every report shows: verdict rows (failing first),
per-experiment verdicts, window statistics and the activity timeline.

Experiment verdicts: ``error`` when the experiment reports an error or could not complete
(Chaos Toolkit status ``failed`` without a deviation, ``aborted``, ``interrupted``); otherwise
``breach`` when an assertion failed or the steady-state hypothesis deviated after the method;
otherwise ``pass``. The run's verdict is the document's own ``verdict``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfsverify.report.formatting import format_limit, format_value
from tfsverify.report.stats import WindowStats, window_stats, windows_of

MARKED_PHASES = ("method", "rollback")


@dataclass(frozen=True)
class VerdictRow:
    """One assertion's outcome, with its values already formatted for reading."""

    experiment: str
    window: str
    assertion: str
    measured: str
    limit: str
    passed: bool
    detail: str

    @property
    def name(self) -> str:
        """``<window>.<assertion>``: the test case name in JUnit."""
        return f"{self.window}.{self.assertion}"

    @property
    def result(self) -> str:
        return "pass" if self.passed else "fail"


@dataclass(frozen=True)
class ActivityRow:
    """One journal activity; times are seconds from the experiment's origin."""

    number: int
    name: str
    type: str
    phase: str
    start_s: float | None
    duration_s: float | None
    status: str
    touched: tuple[str, ...]

    @property
    def marked(self) -> bool:
        """Drawn as a vertical line on the plots (method actions and rollbacks)."""
        return self.phase in MARKED_PHASES and self.start_s is not None


@dataclass(frozen=True)
class ExperimentDigest:
    name: str
    title: str
    file: str
    status: str
    deviated: bool
    error: str | None
    verdict: str
    origin_unix: float | None
    windows: tuple[WindowStats, ...]
    verdicts: tuple[VerdictRow, ...]
    activities: tuple[ActivityRow, ...]
    touched: tuple[str, ...]
    series: tuple[Mapping[str, Any], ...]

    @property
    def failed(self) -> int:
        return sum(not row.passed for row in self.verdicts)


@dataclass(frozen=True)
class RunDigest:
    run_id: str
    target: str
    verdict: str
    started_unix: float | None
    ended_unix: float | None
    interrupted: bool
    environment: tuple[tuple[str, str], ...]
    experiments: tuple[ExperimentDigest, ...]

    @property
    def verdicts(self) -> list[VerdictRow]:
        """Every experiment's verdicts, failing ones first (otherwise in document order)."""
        rows = [row for exp in self.experiments for row in exp.verdicts]
        return sorted(rows, key=lambda row: row.passed)

    @property
    def failed(self) -> int:
        return sum(exp.failed for exp in self.experiments)

    @property
    def duration_s(self) -> float | None:
        if self.started_unix is None or self.ended_unix is None:
            return None
        return self.ended_unix - self.started_unix


def digest_run(document: Mapping[str, Any]) -> RunDigest:
    """Digest a checked results document (see :mod:`tfsverify.report.document`)."""
    environment = document.get("environment") or {}
    return RunDigest(
        run_id=str(document["run_id"]),
        target=str(document.get("target") or "unknown"),
        verdict=str(document["verdict"]),
        started_unix=document.get("started_unix"),
        ended_unix=document.get("ended_unix"),
        interrupted=bool(document.get("interrupted")),
        environment=tuple((str(k), _plain(v)) for k, v in sorted(environment.items())),
        experiments=tuple(digest_experiment(exp) for exp in document["experiments"]),
    )


def digest_experiment(experiment: Mapping[str, Any]) -> ExperimentDigest:
    name = str(experiment["name"])
    verdicts = tuple(_verdict_row(name, v) for v in experiment.get("verdicts") or [])
    origin = _origin(experiment)
    activities = tuple(
        _activity_row(number, activity, origin)
        for number, activity in enumerate(experiment.get("activities") or [], start=1)
    )
    touched = experiment.get("touched")
    if touched is None:
        touched = sorted({t for row in activities for t in row.touched})
    return ExperimentDigest(
        name=name,
        title=str(experiment.get("title") or name),
        file=str(experiment.get("file") or ""),
        status=str(experiment.get("status") or "unknown"),
        deviated=bool(experiment.get("deviated")),
        error=experiment.get("error"),
        verdict=experiment_verdict(experiment),
        origin_unix=origin,
        windows=tuple(window_stats(experiment)),
        verdicts=tuple(sorted(verdicts, key=lambda row: row.passed)),
        activities=activities,
        touched=tuple(str(t) for t in touched),
        series=tuple(experiment.get("series") or ()),
    )


def experiment_verdict(experiment: Mapping[str, Any]) -> str:
    """``pass``, ``breach`` or ``error`` for one experiment (rules in the module doc)."""
    if experiment.get("error"):
        return "error"
    failed = any(not v.get("passed") for v in experiment.get("verdicts") or [])
    if failed or experiment.get("deviated"):
        return "breach"
    if experiment.get("status") in ("failed", "aborted", "interrupted"):
        return "error"
    return "pass"


def _origin(experiment: Mapping[str, Any]) -> float | None:
    """Time zero of an experiment's plots and timeline: the earliest time it records."""
    times = [float(row["start_unix"]) for row in (experiment.get("series") or [])[:1]]
    times += [start for _, start, _ in windows_of(experiment)]
    times += [
        float(a["start_unix"])
        for a in experiment.get("activities") or []
        if a.get("start_unix") is not None
    ]
    return min(times) if times else None


def _verdict_row(experiment: str, verdict: Mapping[str, Any]) -> VerdictRow:
    unit = verdict.get("unit")
    return VerdictRow(
        experiment=experiment,
        window=str(verdict["window"]),
        assertion=str(verdict["assertion"]),
        measured=format_value(verdict.get("measured"), unit),
        limit=format_limit(verdict.get("comparison"), verdict.get("limit"), unit),
        passed=bool(verdict["passed"]),
        detail=str(verdict.get("detail") or ""),
    )


def _activity_row(number: int, activity: Mapping[str, Any], origin: float | None) -> ActivityRow:
    start, end = activity.get("start_unix"), activity.get("end_unix")
    start_s = start - origin if start is not None and origin is not None else None
    duration_s = end - start if start is not None and end is not None else None
    return ActivityRow(
        number=number,
        name=str(activity["name"]),
        type=str(activity.get("type") or ""),
        phase=str(activity.get("phase") or ""),
        start_s=start_s,
        duration_s=duration_s,
        status=str(activity.get("status") or ""),
        touched=tuple(str(t) for t in activity.get("touched") or ()),
    )


def _plain(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return format_value(value) if isinstance(value, bool) or value is None else str(value)
