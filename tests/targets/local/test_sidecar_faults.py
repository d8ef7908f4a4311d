"""VirtualService fault parsing and per-request draws (Istio HTTPFaultInjection for gRPC)."""

from __future__ import annotations

import random
from typing import Any

import grpc
import pytest

from tfsverify.errors import BadInput
from tfsverify.targets.local.sidecar.faults import FaultSpec, draw, parse_duration_s, parse_fault


def test_istio_example_parses() -> None:
    spec = parse_fault({"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 10}},
                        "delay": {"fixedDelay": "2s", "percentage": {"value": 25}}})
    assert spec == FaultSpec(2.0, 25.0, grpc.StatusCode.UNAVAILABLE, 10.0, None)


def test_missing_percentage_means_nobody() -> None:
    spec = parse_fault({"abort": {"grpcStatus": "INTERNAL"}, "delay": {"fixedDelay": "1s"}})
    rng = random.Random(1)
    assert all(draw(spec, rng) == draw(None, rng) for _ in range(1000))


def test_deprecated_integer_percent_is_honoured_for_delay() -> None:
    assert parse_fault({"delay": {"fixedDelay": "1s", "percent": 50}}) == FaultSpec(1.0, 50.0)


def test_http_status_maps_like_envoy() -> None:
    unavailable = FaultSpec(abort_code=grpc.StatusCode.UNAVAILABLE, abort_http_status=503)
    assert parse_fault({"abort": {"httpStatus": 503}}) == unavailable
    unknown = FaultSpec(abort_code=grpc.StatusCode.UNKNOWN, abort_http_status=418)
    assert parse_fault({"abort": {"httpStatus": 418}}) == unknown


@pytest.mark.parametrize(("text", "seconds"), [
    ("2s", 2.0), ("0.5s", 0.5), ("500ms", 0.5), ("1m30s", 90.0), ("250us", 0.00025),
    ("1.000340012s", 1.000340012),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text, "d") == pytest.approx(seconds)


@pytest.mark.parametrize(("raw", "message"), [
    ({"abort": {"grpcStatus": "14"}}, "capitals"),
    ({"abort": {"grpcStatus": "Unavailable"}}, "capitals"),
    ({"abort": {"grpcStatus": "OK"}}, "capitals"),
    ({"abort": {"grpcStatus": "UNAVAILABLE", "httpStatus": 503}}, "exactly one"),
    ({"abort": {"percentage": {"value": 5}}}, "exactly one"),
    ({"abort": {"httpStatus": 99}}, "200-599"),
    ({"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 101}}}, "0-100"),
    ({"abort": {"grpcStatus": "UNAVAILABLE", "percentage": 5}}, "0-100"),
    ({"delay": {"fixedDelay": "soon"}}, "not a duration"),
    ({"delay": {"fixedDelay": "0.5ms", "percentage": {"value": 1}}}, "at least 1ms"),
    ({"delay": {"exponentialDelay": "1s"}}, "unsupported"),
    ({"abort": {"grpcStatus": "UNAVAILABLE"}, "retry": {}}, "unsupported"),
    ([], "object"),
])
def test_bad_faults_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_fault(raw)


def test_delay_and_abort_draw_independently_at_their_percentages() -> None:
    spec = parse_fault({"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 20}},
                        "delay": {"fixedDelay": "10ms", "percentage": {"value": 50}}})
    rng = random.Random(42)
    n = 10_000
    draws = [draw(spec, rng) for _ in range(n)]
    aborted = sum(d.abort_code is not None for d in draws)
    delayed = sum(d.delay_s > 0 for d in draws)
    both = sum(d.abort_code is not None and d.delay_s > 0 for d in draws)
    # binomial bounds at about 5 sd
    assert abs(aborted - 2000) < 200
    assert abs(delayed - 5000) < 250
    assert abs(both - 1000) < 150


def test_same_seed_same_draws() -> None:
    spec = parse_fault({"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 33.3}}})
    a, b = random.Random(5), random.Random(5)
    first = [draw(spec, a) for _ in range(200)]
    assert first == [draw(spec, b) for _ in range(200)]
    assert len(set(first)) == 2  # both outcomes occur


def test_fractional_percentages() -> None:
    spec = parse_fault({"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 0.5}}})
    rng = random.Random(3)
    aborted = sum(draw(spec, rng).abort_code is not None for _ in range(100_000))
    assert 350 < aborted < 650
