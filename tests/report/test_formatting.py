"""Values read the same in every report format."""

from __future__ import annotations

import math

import pytest

from tfsverify.report.formatting import (
    format_duration,
    format_limit,
    format_ms,
    format_utc,
    format_value,
)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.993, "ratio", "99.30 %"),
        (812.4, "ms", "812 ms"),
        (12.34, "ms", "12.3 ms"),
        (1.234, "ms", "1.23 ms"),
        (5, "s", "5.0 s"),
        (7, "count", "7"),
        (1234, None, "1,234"),
        (True, None, "yes"),
        (None, "ms", "n/a"),
        (math.nan, "ratio", "n/a"),
        ("UNAVAILABLE", None, "UNAVAILABLE"),
        (0.5, "widgets", "0.5 widgets"),
    ],
)
def test_values_read_in_their_unit(value: object, unit: str | None, text: str) -> None:
    assert format_value(value, unit) == text


def test_limits_carry_their_comparison() -> None:
    assert format_limit(">=", 0.99, "ratio") == "≥ 99.00 %"
    assert format_limit("<=", 250, "ms") == "≤ 250 ms"
    assert format_limit(None, 3, "count") == "3"


def test_times_and_durations() -> None:
    assert format_utc(1_795_680_000.0) == "2026-11-26 08:00:00 UTC"
    assert format_duration(42.04) == "42.0 s"
    assert format_duration(245) == "4 min 05 s"
    assert format_duration(3725) == "1 h 02 min 05 s"
    assert format_ms(None) == "n/a"


def test_band_limit_reads_as_an_interval() -> None:
    from tfsverify.report.formatting import format_limit

    assert format_limit("in", [0.14, 0.26], "ratio") == "in [14.00 %, 26.00 %]"
