"""Counts and ratios of a window: availability, wrong-answer rate, error rate by status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tfsverify.slo import as_rows, count

Row = Callable[..., dict[str, Any]]


def test_counts_add_up_over_rows(row: Row) -> None:
    rows = as_rows(
        [
            row(0, [1000] * 38, wrong=1, failed={"UNAVAILABLE": 2}),
            row(1, [1000] * 35, failed={"UNAVAILABLE": 3, "DEADLINE_EXCEEDED": 2}),
        ]
    )
    counts = count(rows)
    assert (counts.sent, counts.ok, counts.wrong, counts.failed) == (80, 72, 1, 7)
    assert counts.failed_by_status == {"UNAVAILABLE": 5, "DEADLINE_EXCEEDED": 2}
    assert counts.answered == 73


def test_a_wrong_answer_is_not_available(row: Row) -> None:
    counts = count(as_rows([row(0, [1000] * 100, wrong=3, failed={"UNAVAILABLE": 7})]))
    assert (counts.sent, counts.ok) == (107, 97)
    assert counts.availability == 97 / 107


def test_wrong_answer_rate_is_over_answers_not_requests(row: Row) -> None:
    counts = count(as_rows([row(0, [1000] * 50, wrong=5, failed={"UNAVAILABLE": 50})]))
    assert counts.wrong_answer_rate == 5 / 50


def test_error_rate_counts_all_failures_or_one_status(row: Row) -> None:
    counts = count(
        as_rows([row(0, [1000] * 70, failed={"UNAVAILABLE": 20, "CLIENT_OVERLOAD": 10})])
    )
    assert counts.error_rate() == 30 / 100
    assert counts.error_rate("UNAVAILABLE") == 20 / 100
    assert counts.error_rate("CLIENT_OVERLOAD") == 10 / 100
    assert counts.error_rate("ABORTED") == 0.0


def test_failures_read_most_frequent_first(row: Row) -> None:
    counts = count(as_rows([row(0, [], failed={"ABORTED": 1, "UNAVAILABLE": 7, "INTERNAL": 1})]))
    assert counts.failures_text() == "UNAVAILABLE 7, ABORTED 1, INTERNAL 1"


def test_nothing_to_judge_gives_none_never_a_number(row: Row) -> None:
    empty = count(as_rows([row(0, [])]))
    assert (empty.availability, empty.wrong_answer_rate, empty.error_rate()) == (None, None, None)
    all_failed = count(as_rows([row(0, [], failed={"UNAVAILABLE": 4})]))
    assert all_failed.availability == 0.0
    assert all_failed.wrong_answer_rate is None
