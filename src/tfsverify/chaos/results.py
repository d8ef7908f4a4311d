"""The run results document (``summary.json``, schema_version 1) built from what a run saw.

Pure functions over data: activity records and the Chaos Toolkit journal in, the
experiment's part of the document out. The windows come from the activities' times
(:func:`tfsverify.slo.split_windows`), the verdicts from :func:`tfsverify.slo.evaluate`
plus one per steady-state probe (``window`` ``hypothesis-before`` / ``hypothesis-after``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from tfsverify import __version__, slo
from tfsverify.load.recorder import IntervalStats
from tfsverify.load.result import LoadResult, environment

SCHEMA_VERSION = 1


def run_id(now_unix: float) -> str:
    """``20261126T083000Z``: the run's start in UTC (also its folder name)."""
    return datetime.fromtimestamp(now_unix, UTC).strftime("%Y%m%dT%H%M%SZ")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (anything else as its text)."""
    return json.loads(json.dumps(value, default=str))


def touched_by(output: Any) -> list[str]:
    """What an action's output says it touched: a list of names, or a ``touched`` key."""
    if isinstance(output, list) and all(isinstance(item, str) for item in output):
        return list(output)
    if isinstance(output, dict) and isinstance(output.get("touched"), list):
        return [str(item) for item in output["touched"]]
    return []


def series_rows(series: Iterable[IntervalStats]) -> list[dict[str, Any]]:
    """The load series as the document's rows (``hdr``: base64 text, µs)."""
    rows = []
    for interval in series:
        row = asdict(interval)
        encoded = row.pop("histogram")
        row["hdr"] = encoded.decode("ascii") if encoded else None
        rows.append(row)
    return rows


def hypothesis_verdicts(name: str, journal: Mapping[str, Any],
                        notes: Mapping[str, str]) -> list[dict[str, Any]]:
    """One verdict per steady-state probe run, before and after the method, and one per
    method probe that carries a ``tolerance``: the Chaos Toolkit ignores a method probe's
    tolerance, tfsverify holds it to it (a rollout step's traffic share, a GPU pod's place)."""
    verdicts = []
    states = journal.get("steady_states") or {}
    for when in ("before", "after"):
        state = states.get(when) or {}
        for probe in state.get("probes") or []:
            verdicts.append(_verdict(name, f"hypothesis-{when}", probe, notes,
                                     bool(probe.get("tolerance_met"))))
    for probe in journal.get("run") or []:
        activity = probe.get("activity") or {}
        if activity.get("type") != "probe" or "tolerance" not in activity:
            continue
        met = probe.get("status") != "failed" and _within(activity["tolerance"],
                                                          probe.get("output"))
        verdicts.append(_verdict(name, "method", probe, notes, met))
    return verdicts


def _verdict(name: str, window: str, probe: Mapping[str, Any], notes: Mapping[str, str],
             met: bool) -> dict[str, Any]:
    activity = probe.get("activity") or {}
    probe_name = str(activity.get("name", "probe"))
    tolerance = activity.get("tolerance")
    output = probe.get("output")
    failed = probe.get("status") == "failed"
    detail = notes.get(f"{window}:{probe_name}") or (
        f"the probe raised: {_exception_line(probe)}" if failed else
        f"returned {json.dumps(jsonable(output))}, tolerance {json.dumps(tolerance)}")
    return {
        "id": f"{name}.{window}.{probe_name}",
        "assertion": probe_name,
        "window": window,
        "measured": _scalar(output),
        "limit": _scalar(tolerance),
        "comparison": "tolerance",
        "unit": "",
        "passed": met and not failed,
        "detail": detail,
    }


def _within(tolerance: Any, value: Any) -> bool:
    """The Chaos Toolkit's own tolerance rules (a value, a range, a regex, a JSONPath...)."""
    from chaoslib.hypothesis import within_tolerance

    try:
        return bool(within_tolerance(tolerance, value, configuration={}, secrets={}))
    except Exception:  # a tolerance the Chaos Toolkit itself cannot evaluate: not met
        return False


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(jsonable(value))


def _exception_line(run: Mapping[str, Any]) -> str:
    lines = [line.strip() for line in run.get("exception") or [] if line.strip()]
    return lines[-1] if lines else "no detail"


def journal_error(journal: Mapping[str, Any]) -> str | None:
    """The first activity failure of the journal as one line (None when nothing raised)."""
    states = journal.get("steady_states") or {}
    runs: list[Mapping[str, Any]] = []
    for when in ("before", "after"):
        runs += (states.get(when) or {}).get("probes") or []
    runs += list(journal.get("run") or []) + list(journal.get("rollbacks") or [])
    for run in runs:
        if run.get("status") == "failed":
            name = (run.get("activity") or {}).get("name", "an activity")
            return f"{name} failed: {_exception_line(run)}"
    return None


def experiment_part(
    *,
    name: str,
    title: str,
    file: str | None,
    status: str,
    deviated: bool,
    error: str | None,
    activities: Sequence[Mapping[str, Any]],
    load: LoadResult | None,
    slo_set: slo.SloSet | None,
    slo_file: str | None,
    extra_verdicts: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The experiment's entry of the document: windows, activities, load, series, verdicts."""
    series = load.series if load is not None else []
    windows = slo.split_windows(series, list(activities)) if series else {}
    verdicts: list[dict[str, Any]] = []
    if slo_set is not None and load is not None:
        verdicts = [v.to_dict() for v in slo.evaluate(slo_set, series, windows, experiment=name)]
    verdicts += [dict(v) for v in extra_verdicts]
    touched = sorted({item for a in activities for item in a.get("touched") or []})
    return {
        "name": name,
        "title": title,
        "file": file,
        "status": status,
        "deviated": deviated,
        "error": error,
        "windows": {key: [float(start), float(end)] for key, (start, end) in windows.items()},
        "activities": [jsonable(dict(a)) for a in activities],
        "load": load.to_dict() if load is not None else None,
        "series": series_rows(series),
        "slo": {"name": slo_set.name, "file": slo_file} if slo_set is not None else None,
        "verdicts": verdicts,
        "touched": touched,
    }


def run_verdict(experiments: Sequence[Mapping[str, Any]]) -> str:
    """``error`` when an experiment could not run, ``breach`` on a failed verdict or a
    deviation, else ``pass``."""
    if any(e.get("error") or (e.get("status") in ("failed", "aborted") and not e.get("verdicts"))
           for e in experiments):
        return "error"
    if any(e.get("deviated") or not all(v.get("passed") for v in e.get("verdicts") or [])
           for e in experiments):
        return "breach"
    if any(e.get("status") in ("failed", "aborted") for e in experiments):
        return "breach"
    return "pass"


def run_document(*, run_id: str, started_unix: float, ended_unix: float, target: str,
                 interrupted: bool, experiments: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole run's document."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "tfsverify.run",
        "run_id": run_id,
        "started_unix": started_unix,
        "ended_unix": ended_unix,
        "target": target,
        "environment": {**environment(), "tfsverify": __version__},
        "interrupted": interrupted,
        "verdict": run_verdict(experiments),
        "experiments": [dict(e) for e in experiments],
    }
