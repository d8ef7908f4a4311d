"""Time to recover on constructed series: when the rolling windows meet the limits again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest import approx

from tfsverify.slo import as_rows, evaluate, slo_set_from_dict, split_windows, time_to_recover

Series = Callable[..., list[dict[str, Any]]]

SET = {
    "name": "recovery-test",
    "rolling_window_s": 5,
    "assertions": [
        {"kind": "availability_min", "window": "baseline", "limit": 0.999},
        {"kind": "p99_ms_max", "window": "baseline", "limit": 25},
        {"kind": "time_to_recover_s_max", "window": "recovery", "limit": 30},
    ],
}


def test_recovers_at_the_second_after_the_last_failure(series: Series, t0: float) -> None:
    rows = as_rows(series(60, failures={s: {"UNAVAILABLE": 2} for s in range(20, 25)}))
    result = time_to_recover(rows, t0 + 20, 5, 0.999, 25)
    assert result.recovered_unix == t0 + 25
    assert result.time_to_recover_s == 5
    assert result.last_failing_start_unix == t0 + 24
    assert result.last_failure == "availability 0.9900"


def test_the_clock_starts_at_the_fault_not_at_a_row(series: Series, t0: float) -> None:
    rows = as_rows(series(60, failures={20: {"UNAVAILABLE": 1}}))
    assert time_to_recover(rows, t0 + 20.4, 5, 0.999, None).time_to_recover_s == approx(0.6)


def test_slow_answers_delay_recovery_through_the_merged_p99(series: Series, t0: float) -> None:
    # no failure at all, but seconds 20-29 answer in 80 ms
    rows = as_rows(series(60, slow={s: 80_000 for s in range(20, 30)}))
    assert time_to_recover(rows, t0 + 20, 5, 0.999, 25).time_to_recover_s == 10
    # judged on availability alone it never degraded
    assert time_to_recover(rows, t0 + 20, 5, 0.999, None).time_to_recover_s == 0


def test_one_slow_second_of_forty_shows_in_a_five_second_p99(series: Series, t0: float) -> None:
    # 40 slow of 200 in each window holding second 30: p99 is slow, so not yet recovered
    rows = as_rows(series(60, slow={30: 80_000}))
    assert time_to_recover(rows, t0 + 20, 5, None, 25).time_to_recover_s == 11


def test_a_relapse_restarts_the_clock(series: Series, t0: float) -> None:
    failures = {20: {"UNAVAILABLE": 5}, 40: {"DEADLINE_EXCEEDED": 1}}
    rows = as_rows(series(60, failures=failures))
    assert time_to_recover(rows, t0 + 20, 5, 0.999, 25).time_to_recover_s == 21


def test_never_recovers_when_the_last_window_still_fails(series: Series, t0: float) -> None:
    rows = as_rows(series(60, failures={58: {"UNAVAILABLE": 1}}))
    result = time_to_recover(rows, t0 + 20, 5, 0.999, 25)
    assert (result.time_to_recover_s, result.recovered_unix) == (None, None)
    assert result.windows_judged == 1


def test_never_recovers_when_the_run_ends_within_one_window(series: Series, t0: float) -> None:
    result = time_to_recover(as_rows(series(23)), t0 + 20, 5, 0.999, 25)
    assert (result.time_to_recover_s, result.windows_judged) == (None, 0)


def test_a_window_without_requests_is_not_recovered(series: Series, t0: float) -> None:
    rows = series(60)
    for silent in rows[50:]:
        silent.update(sent=0, ok=0, hdr=None)
    assert time_to_recover(as_rows(rows), t0 + 20, 5, 0.999, 25).time_to_recover_s is None


def test_the_verdict_of_a_recovery(series: Series, t0: float) -> None:
    rows = series(60, failures={s: {"UNAVAILABLE": 2} for s in range(20, 25)})
    windows = split_windows(rows, fault=(t0 + 20.0, t0 + 20.05))
    (*_, verdict) = evaluate(slo_set_from_dict(SET), rows, windows, experiment="pod-kill")
    assert verdict.id == "pod-kill.recovery.time_to_recover_s"
    assert (verdict.measured, verdict.limit, verdict.comparison, verdict.unit) == (5, 30, "<=", "s")
    assert verdict.passed
    assert verdict.detail == (
        "recovered 5 s after the fault started: every 5 s window met availability >= 0.999 and "
        "p99 <= 25 ms from then on (before: availability 0.9900)"
    )


def test_the_verdict_of_no_recovery_is_a_failure_with_null_measured(
    series: Series, t0: float
) -> None:
    rows = series(60, failures={s: {"UNAVAILABLE": 40} for s in range(20, 60)})
    windows = split_windows(rows, fault=(t0 + 20.0, t0 + 21))
    verdict = evaluate(slo_set_from_dict(SET), rows, windows)[-1]
    assert (verdict.measured, verdict.passed) == (None, False)
    assert verdict.to_dict()["measured"] is None
    assert verdict.detail.startswith("never recovered: the last 5 s window still had availability")


def test_recovery_beyond_the_limit_fails(series: Series, t0: float) -> None:
    rows = series(90, failures={s: {"UNAVAILABLE": 1} for s in range(20, 60)})
    windows = split_windows(rows, fault=(t0 + 20.0, t0 + 21))
    verdict = evaluate(slo_set_from_dict(SET), rows, windows)[-1]
    assert (verdict.measured, verdict.passed) == (40, False)


def test_without_a_fault_window_there_is_nothing_to_recover_from(series: Series) -> None:
    rows = series(30)
    windows = split_windows(rows, [])
    verdict = evaluate(slo_set_from_dict(SET), rows, windows)[-1]
    assert (verdict.measured, verdict.passed) == (None, False)
