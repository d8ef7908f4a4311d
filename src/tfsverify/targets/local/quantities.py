"""Kubernetes and Istio scalar formats: resource quantities, durations, int-or-percent.

Each parser takes the raw YAML value and returns a normalised number, or raises
``ValueError`` with a short reason; the manifest reader adds the object and field to it.

- cpu: ``"500m"``, ``"2"``, ``"0.5"``, ``2`` -> millicores (rounded up, as Kubernetes does)
- memory: ``"1Gi"``, ``"512Mi"``, ``"1G"``, ``"1000"``, ``"1e3"`` -> bytes (rounded up)
- counts (pods, ``nvidia.com/gpu``): whole numbers only
- durations (Go / Istio): ``"5s"``, ``"500ms"``, ``"1m"``, ``"1m30s"``, ``"1.5h"`` -> seconds
- int-or-percent (PodDisruptionBudget): ``1`` or ``"25%"``
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_EXPONENT = re.compile(r"^[eE]([+-]?[0-9]+)$")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNIT_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PERCENT = re.compile(r"^[0-9]+%$")


def parse_quantity(value: Any) -> Decimal:
    """A Kubernetes resource quantity as an exact, non-negative decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a quantity")
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a quantity (e.g. 500m, 2, 1Gi, 512Mi, 1G)")
    number_text, suffix = match.groups()
    try:
        number = Decimal(number_text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{value!r} is not a quantity") from exc
    if suffix in _BINARY:
        amount = number * _BINARY[suffix]
    elif suffix in _DECIMAL:
        amount = number * _DECIMAL[suffix]
    elif (exponent := _EXPONENT.match(suffix)) is not None:
        amount = number.scaleb(int(exponent.group(1)))
    else:
        raise ValueError(f"{value!r} has an unknown suffix {suffix!r} (e.g. m, k, G, Ki, Gi)")
    if amount < 0:
        raise ValueError(f"{value!r} is negative")
    return amount


def parse_cpu_m(value: Any) -> int:
    """cpu quantity -> millicores, rounded up (``"0.0001"`` is 1m, as in Kubernetes)."""
    return math.ceil(parse_quantity(value) * 1000)


def parse_memory_b(value: Any) -> int:
    """memory quantity -> bytes, rounded up."""
    return math.ceil(parse_quantity(value))


def parse_count(value: Any) -> int:
    """A whole-number quantity (pods, extended resources such as ``nvidia.com/gpu``)."""
    amount = parse_quantity(value)
    if amount != amount.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(amount)


def parse_duration_s(value: Any) -> float:
    """A Go/Istio duration string (``"5s"``, ``"500ms"``, ``"1m30s"``) -> seconds."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration (e.g. 5s, 500ms, 1m)")
    text = value.strip()
    if text == "0":
        return 0.0
    total_s = 0.0
    position = 0
    for match in _DURATION_PART.finditer(text):
        number, unit = match.groups()
        if match.start() != position or number in ("", "."):
            break
        total_s += float(number) * _DURATION_UNIT_S[unit]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration (e.g. 5s, 500ms, 1m)")
    return total_s


def parse_int_or_percent(value: Any) -> int | str:
    """A non-negative int, or a string ``"NN%"`` with NN at most 100."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{value!r} is negative")
        return value
    if isinstance(value, str) and _PERCENT.match(value):
        if int(value[:-1]) > 100:
            raise ValueError(f"{value!r} is more than 100%")
        return value
    raise ValueError(f"{value!r} is neither a non-negative integer nor a percentage like '25%'")
