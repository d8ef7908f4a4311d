"""Splitting a run into baseline / fault / recovery / whole, and which rows fall where."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tfsverify.errors import BadInput
from tfsverify.slo import rows_in, split_windows
from tfsverify.slo.windows import fault_from_activities

Series = Callable[..., list[dict[str, Any]]]


def activity(phase: str, start: float, end: float, kind: str = "action") -> dict[str, Any]:
    return {
        "name": f"{phase}-{kind}",
        "type": kind,
        "phase": phase,
        "start_unix": start,
        "end_unix": end,
        "status": "succeeded",
    }


def test_windows_follow_the_method_actions_and_skip_the_warm_up(series: Series, t0: float) -> None:
    rows = series(60, rps=4, warmup_s=5)
    activities = [
        activity("hypothesis-before", t0 + 6.2, t0 + 6.4, "probe"),
        activity("method", t0 + 20.0, t0 + 21.0),
        activity("method", t0 + 21.0, t0 + 30.0),
        activity("hypothesis-after", t0 + 30.1, t0 + 30.3, "probe"),
    ]
    windows = split_windows(rows, activities)
    assert windows == {
        "baseline": (t0 + 5, t0 + 20),
        "fault": (t0 + 20, t0 + 30),
        "recovery": (t0 + 30, t0 + 60),
        "whole": (t0 + 5, t0 + 60),
    }


def test_a_fault_shorter_than_a_second_owns_the_whole_second(series: Series, t0: float) -> None:
    rows = series(30, rps=4)
    windows = split_windows(rows, [activity("method", t0 + 12.30, t0 + 12.35)])
    assert windows["fault"] == (t0 + 12, t0 + 13)
    assert windows["baseline"] == (t0, t0 + 12)
    assert [row.start_unix - t0 for row in rows_in(rows, windows["fault"])] == [12]


def test_a_fault_straddling_a_second_boundary_owns_both_seconds(series: Series, t0: float) -> None:
    windows = split_windows(series(30), [activity("method", t0 + 12.9, t0 + 13.1)])
    assert windows["fault"] == (t0 + 12, t0 + 14)


def test_a_fault_on_row_boundaries_is_not_widened(series: Series, t0: float) -> None:
    windows = split_windows(series(30), [activity("method", t0 + 10, t0 + 15)])
    assert windows["fault"] == (t0 + 10, t0 + 15)


def test_snap_false_keeps_the_journal_times(series: Series, t0: float) -> None:
    windows = split_windows(series(30), [activity("method", t0 + 12.3, t0 + 12.35)], snap=False)
    assert windows["fault"] == (t0 + 12.3, t0 + 12.35)
    assert rows_in(series(30), windows["fault"]) == []


def test_rollbacks_extend_the_fault_unless_told_not_to(series: Series, t0: float) -> None:
    activities = [
        activity("method", t0 + 10, t0 + 10.5),
        activity("hypothesis-after", t0 + 11, t0 + 11.2, "probe"),
        activity("rollback", t0 + 19.5, t0 + 19.7),
    ]
    assert split_windows(series(40), activities)["fault"] == (t0 + 10, t0 + 20)
    narrow = split_windows(series(40), activities, include_rollbacks=False)
    assert narrow["fault"] == (t0 + 10, t0 + 11)


def test_a_method_of_probes_only_marks_the_fault_with_its_probes() -> None:
    activities = [activity("method", 5.0, 6.0, "probe"), activity("method", 7.0, 8.0, "probe")]
    assert fault_from_activities(activities) == (5.0, 8.0)


def test_actions_mark_the_fault_when_the_method_has_both() -> None:
    activities = [activity("method", 5.0, 6.0, "probe"), activity("method", 7.0, 8.0)]
    assert fault_from_activities(activities) == (7.0, 8.0)


def test_without_a_method_the_whole_run_is_baseline(series: Series, t0: float) -> None:
    windows = split_windows(series(20), [activity("hypothesis-before", t0 + 1, t0 + 2, "probe")])
    assert windows == {"baseline": (t0, t0 + 20), "whole": (t0, t0 + 20)}


def test_explicit_fault_times_are_clamped_to_the_load(series: Series, t0: float) -> None:
    rows = series(20, warmup_s=2)
    early = split_windows(rows, fault=(t0 - 5, t0 + 4.5))
    assert early["baseline"] == (t0 + 2, t0 + 2)
    assert early["fault"] == (t0 + 2, t0 + 5)
    late = split_windows(rows, fault=(t0 + 30, t0 + 40))
    assert late["fault"] == (t0 + 20, t0 + 20)
    assert late["recovery"] == (t0 + 20, t0 + 20)


def test_a_fault_that_ends_before_it_starts_is_bad_input(series: Series, t0: float) -> None:
    with pytest.raises(BadInput, match="ends"):
        split_windows(series(10), fault=(t0 + 5, t0 + 4))


def test_activities_without_times_are_bad_input(series: Series) -> None:
    with pytest.raises(BadInput, match="start_unix"):
        split_windows(series(10), [{"phase": "method", "type": "action"}])


def test_exactly_one_source_of_fault_times_is_accepted(series: Series, t0: float) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        split_windows(series(10))
    with pytest.raises(ValueError, match="exactly one"):
        split_windows(series(10), [], fault=(t0, t0 + 1))


def test_a_series_of_warm_up_only_has_no_windows(series: Series) -> None:
    assert split_windows(series(5, warmup_s=5), []) == {}
    assert split_windows([], []) == {}


def test_a_row_belongs_to_the_window_its_start_is_in(series: Series, t0: float) -> None:
    rows = series(10, warmup_s=2)
    assert [r.start_unix - t0 for r in rows_in(rows, (t0 + 3, t0 + 5))] == [3, 4]
    assert [r.start_unix - t0 for r in rows_in(rows, (t0 + 3.5, t0 + 5.0001))] == [4, 5]
    # warm-up rows are in no window
    assert [r.start_unix - t0 for r in rows_in(rows, (t0, t0 + 3))] == [2]


@dataclass(frozen=True)
class IntervalLike:
    """The attributes of the load engine's IntervalStats that the SLO code reads."""

    start_unix: float
    warmup: bool
    sent: int
    ok: int
    wrong: int
    failed: int
    failed_by_status: dict[str, int]
    histogram: bytes | None


def test_engine_interval_objects_are_read_like_rows(series: Series, t0: float) -> None:
    objects = [
        IntervalLike(
            r["start_unix"],
            r["warmup"],
            r["sent"],
            r["ok"],
            r["wrong"],
            r["failed"],
            r["failed_by_status"],
            r["hdr"].encode(),
        )
        for r in series(6, warmup_s=1)
    ]
    windows = split_windows(list(reversed(objects)), fault=(t0 + 3, t0 + 4))
    assert windows["baseline"] == (t0 + 1, t0 + 3)
    (row,) = rows_in(objects, windows["fault"])
    assert (row.sent, row.hdr) == (40, objects[3].histogram)
