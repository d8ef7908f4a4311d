"""Istio HTTPFaultInjection for gRPC: parse a VirtualService ``fault`` and draw per request.

Semantics, as in Istio and Envoy's fault filter:

- ``delay`` is applied first (``fixedDelay``, a duration such as ``"0.5s"`` or ``"500ms"``,
  at least 1 ms), then ``abort``; each draws independently with its own
  ``percentage.value`` (a float, 0-100).
- A missing ``percentage`` means the fault applies to no request ("If left unspecified, no
  request will be delayed/aborted"); the deprecated integer ``delay.percent`` is honoured
  when ``percentage`` is absent, as Istio still translates it.
- ``abort.grpcStatus`` is a status name in capitals (``"UNAVAILABLE"``, not ``14``); the call
  fails with that status and the message ``fault filter abort``. ``abort.httpStatus`` is
  mapped to a gRPC status the way Envoy maps HTTP codes of local replies.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

import grpc

from tfsverify.errors import BadInput

ABORT_MESSAGE = "fault filter abort"

# Envoy Grpc::Utility::httpToGrpcStatus
_HTTP_TO_GRPC = {400: grpc.StatusCode.INTERNAL, 401: grpc.StatusCode.UNAUTHENTICATED,
                 403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.UNIMPLEMENTED,
                 429: grpc.StatusCode.UNAVAILABLE, 502: grpc.StatusCode.UNAVAILABLE,
                 503: grpc.StatusCode.UNAVAILABLE, 504: grpc.StatusCode.UNAVAILABLE}
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")


@dataclass(frozen=True)
class FaultSpec:
    """A parsed fault; percentages are 0-100."""

    delay_s: float = 0.0
    delay_pct: float = 0.0
    abort_code: grpc.StatusCode | None = None
    abort_pct: float = 0.0
    abort_http_status: int | None = None  # set when the abort was given as httpStatus


@dataclass(frozen=True)
class FaultDraw:
    """What happens to one request."""

    delay_s: float = 0.0  # 0: not delayed
    abort_code: grpc.StatusCode | None = None  # None: not aborted


NO_FAULT = FaultDraw()


def draw(spec: FaultSpec | None, rng: random.Random) -> FaultDraw:
    """Draw the delay and the abort of one request (two independent draws, like Envoy)."""
    if spec is None:
        return NO_FAULT
    delayed = spec.delay_s > 0 and _hit(spec.delay_pct, rng)
    aborted = spec.abort_code is not None and _hit(spec.abort_pct, rng)
    if not delayed and not aborted:
        return NO_FAULT
    return FaultDraw(spec.delay_s if delayed else 0.0, spec.abort_code if aborted else None)


def _hit(pct: float, rng: random.Random) -> bool:
    return pct >= 100.0 or (pct > 0.0 and rng.random() * 100.0 < pct)


def parse_fault(raw: Any) -> FaultSpec | None:
    """Build a :class:`FaultSpec` from an Istio ``HTTPFaultInjection`` object (or None)."""
    if raw is None:
        return None
    _expect(raw, {"delay", "abort"}, "fault")
    delay_s = delay_pct = abort_pct = 0.0
    code: grpc.StatusCode | None = None
    http_status: int | None = None
    if raw.get("delay") is not None:
        delay = raw["delay"]
        _expect(delay, {"fixedDelay", "percentage", "percent"}, "fault.delay")
        if "fixedDelay" not in delay:
            raise BadInput("fault.delay.fixedDelay is required (exponentialDelay is not supported)")
        delay_s = parse_duration_s(delay["fixedDelay"], "fault.delay.fixedDelay")
        if delay_s < 1e-3:
            raise BadInput("fault.delay.fixedDelay must be at least 1ms")
        if "percentage" in delay:
            delay_pct = _percentage(delay["percentage"], "fault.delay.percentage")
        elif "percent" in delay:
            delay_pct = _percentage({"value": delay["percent"]}, "fault.delay.percent")
    if raw.get("abort") is not None:
        abort = raw["abort"]
        _expect(abort, {"grpcStatus", "httpStatus", "percentage"}, "fault.abort")
        if ("grpcStatus" in abort) == ("httpStatus" in abort):
            raise BadInput("fault.abort needs exactly one of grpcStatus and httpStatus")
        if "grpcStatus" in abort:
            code = _grpc_status(abort["grpcStatus"])
        else:
            http_status = abort["httpStatus"]
            if not isinstance(http_status, int) or not 200 <= http_status <= 599:
                raise BadInput("fault.abort.httpStatus must be an HTTP status code (200-599)")
            code = _HTTP_TO_GRPC.get(http_status, grpc.StatusCode.UNKNOWN)
        if "percentage" in abort:
            abort_pct = _percentage(abort["percentage"], "fault.abort.percentage")
    return FaultSpec(delay_s, delay_pct, code, abort_pct, http_status)


def parse_duration_s(raw: Any, where: str) -> float:
    """A duration string (``"2s"``, ``"0.5s"``, ``"500ms"``, ``"1m30s"``) in seconds."""
    text = str(raw).strip() if isinstance(raw, str | int | float) else ""
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise BadInput(f"{where}: {raw!r} is not a duration such as '0.5s' or '500ms'")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def _grpc_status(raw: Any) -> grpc.StatusCode:
    names = [c.name for c in grpc.StatusCode if c is not grpc.StatusCode.OK]
    if not isinstance(raw, str) or raw not in names:
        raise BadInput(f"fault.abort.grpcStatus {raw!r} is not a gRPC status name in capitals "
                       f"such as 'UNAVAILABLE'")
    return grpc.StatusCode[raw]


def _percentage(raw: Any, where: str) -> float:
    value = raw.get("value", 0.0) if isinstance(raw, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise BadInput(f"{where} must be {{\"value\": <number 0-100>}}")
    return float(value)


def _expect(raw: Any, allowed: set[str], where: str) -> None:
    if not isinstance(raw, dict):
        raise BadInput(f"{where} must be an object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise BadInput(f"{where}: unsupported field(s) {', '.join(unknown)}")
