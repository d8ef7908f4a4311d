"""How numbers, limits and times read in every report format (HTML, Markdown, JUnit).

Units follow the results document: ``ratio`` reads as a percentage, ``ms`` and ``s`` keep
their unit, counts read as whole numbers. Missing values (``None``) read as ``n/a``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

NOT_AVAILABLE = "n/a"
COMPARISON_SIGNS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "!=": "≠"}
_COUNT_UNITS = {"count", "requests", "req", "restarts", "pods"}


def format_value(value: Any, unit: str | None = None) -> str:
    """A measured value or a limit in its unit: ``99.30 %``, ``812 ms``, ``12.5 s``, ``7``."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return NOT_AVAILABLE
    if unit in ("ratio", "fraction"):
        return format_pct(value)
    if unit in ("pct", "%", "percent"):
        return f"{value:.2f} %"
    if unit == "ms":
        return format_ms(value)
    if unit == "s":
        return f"{value:.1f} s"
    if unit in _COUNT_UNITS or isinstance(value, int):
        return f"{round(value):,}" + (f" {unit}" if unit and unit not in _COUNT_UNITS else "")
    return f"{value:.4g}" + (f" {unit}" if unit else "")


def format_limit(comparison: str | None, limit: Any, unit: str | None = None) -> str:
    """A limit with its comparison: ``≥ 99.00 %``, ``≤ 250 ms``, ``in [14.00 %, 26.00 %]``."""
    if isinstance(limit, list | tuple) and len(limit) == 2:
        low, high = (format_value(bound, unit) for bound in limit)
        return f"in [{low}, {high}]"
    sign = COMPARISON_SIGNS.get(comparison or "", comparison or "")
    text = format_value(limit, unit)
    return f"{sign} {text}".strip()


def format_pct(ratio: float | None, digits: int = 2) -> str:
    """A ratio (0..1) as a percentage; ``n/a`` when unknown."""
    if ratio is None or not math.isfinite(ratio):
        return NOT_AVAILABLE
    return f"{ratio * 100:.{digits}f} %"


def format_ms(value_ms: float | None) -> str:
    """A latency with three significant figures (but never in exponent form)."""
    if value_ms is None or not math.isfinite(value_ms):
        return NOT_AVAILABLE
    if value_ms >= 100:
        return f"{value_ms:,.0f} ms"
    if value_ms >= 10:
        return f"{value_ms:.1f} ms"
    return f"{value_ms:.2f} ms"


def format_offset(seconds: float | None) -> str:
    """Seconds from the start of an experiment, to a tenth: ``42.3``."""
    if seconds is None or not math.isfinite(seconds):
        return NOT_AVAILABLE
    return f"{seconds:.1f}"


def format_utc(unix_s: float | None) -> str:
    """A unix time as ``2026-11-26 08:30:00 UTC``."""
    if unix_s is None or not math.isfinite(unix_s):
        return NOT_AVAILABLE
    moment = dt.datetime.fromtimestamp(unix_s, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: float | None) -> str:
    """A duration as ``4 min 05 s`` or ``42.0 s``."""
    if seconds is None or not math.isfinite(seconds):
        return NOT_AVAILABLE
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {rest:02d} s"
    return f"{minutes} min {rest:02d} s"
