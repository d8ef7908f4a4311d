"""The knee, the recovery after a spike and the drift of a soak, on made-up seconds."""

from __future__ import annotations

import math

import pytest

from tfsverify.perf import analysis
from tfsverify.perf.samples import encode_values_ms


def test_the_knee_is_interpolated_in_log_p99_between_the_bracketing_steps() -> None:
    knee = analysis.sweep_knee([(100, 5.0, 1.0), (200, 10.0, 1.0), (400, 40.0, 1.0)], 20.0, 0.999)
    # log(20/10) / log(40/10) = 0.5 of the way from 200 to 400
    assert knee.knee_rps == pytest.approx(300.0)
    assert (knee.last_good_rps, knee.first_breaking_rps) == (200, 400)


def test_an_availability_drop_breaks_the_knee_at_the_last_good_step() -> None:
    knee = analysis.sweep_knee([(100, 5.0, 1.0), (200, 8.0, 0.9)], 20.0, 0.999)
    assert knee.knee_rps == 100


def test_no_knee_above_or_below_the_sweep() -> None:
    above = analysis.sweep_knee([(100, 5.0, 1.0), (200, 8.0, 1.0)], 20.0, 0.999)
    assert above.knee_rps is None and above.last_good_rps == 200
    assert "up to the last step" in above.note
    below = analysis.sweep_knee([(100, 50.0, 1.0)], 20.0, 0.999)
    assert below.knee_rps is None and below.first_breaking_rps == 100


def row(offset: int, latency_ms: float, sent: int = 50, ok: int | None = None) -> analysis.Row:
    ok = sent if ok is None else ok
    return analysis.Row(offset, sent, ok, sent - ok, encode_values_ms([latency_ms] * ok))


def test_recovery_counts_from_the_spike_end_to_the_first_good_window() -> None:
    rows = [row(0, 5), row(1, 5), row(2, 300), row(3, 200), row(4, 80), row(5, 6), row(6, 5),
            row(7, 5)]
    assert analysis.recovery_s(rows, spike_end_s=3, window_s=2, slo_p99_ms=25,
                               availability_min=0.999) == 2.0
    assert analysis.recovery_s(rows[:6], 3, 2, 25, 0.999) is None  # never a good full window
    assert analysis.recovery_s(rows, 6, 2, 25, 0.999) == 0.0


def test_failed_requests_keep_a_window_out_of_the_objective() -> None:
    rows = [row(0, 5, ok=40), row(1, 5, ok=40), row(2, 5), row(3, 5)]
    assert analysis.recovery_s(rows, 0, 2, 25, 0.999) == 2.0


def test_ramp_knee_is_the_mean_rate_of_the_first_failing_window() -> None:
    rows = [row(0, 5, sent=100), row(1, 5, sent=200), row(2, 90, sent=300), row(3, 90, sent=400)]
    assert analysis.ramp_knee(rows, 2, 25, 0.999) == 250.0
    assert analysis.ramp_knee(rows[:2], 2, 25, 0.999) is None


def test_drift_compares_the_last_third_with_the_first() -> None:
    seconds = [encode_values_ms([10.0] * 20)] * 3 + [encode_values_ms([12.0] * 20)] * 3
    drift = analysis.thirds_drift_pct(seconds, "p50")
    assert drift == pytest.approx(20.0, abs=0.5)
    assert analysis.thirds_drift_pct(seconds[:2], "p50") is None


def test_slope_is_per_minute() -> None:
    assert analysis.slope_per_min([0, 30, 60], [100, 101, 102]) == pytest.approx(2.0)
    assert analysis.slope_per_min([0, 1], [1, 2]) is None
    assert math.isclose(analysis.slope_per_min([0, 10, 20], [5, 5, 5]) or 0.0, 0.0,
                        abs_tol=1e-9)
