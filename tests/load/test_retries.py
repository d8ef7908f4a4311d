"""The route's retry policy as the load client applies it: real gRPC on 127.0.0.1."""

from __future__ import annotations

import random
import socket
import time
from typing import Any

import grpc
import pytest

from tfsverify.load import Upstream, profile_from_dict, run_load
from tfsverify.load.retries import RetryRule, transport_failure
from tfsverify.targets.base import Endpoint, RoutePolicy
from tfsverify.targets.local.spec import MeshPolicy
from tfsverify.targets.local.target import route_policy

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def constant(rate: float, seconds: float, **extra: Any) -> Any:
    return profile_from_dict({"kind": "constant", "rate_rps": rate, "duration_s": seconds, **extra})


def route(*retry_on: str, attempts: int = 1, **extra: Any) -> RoutePolicy:
    return RoutePolicy(attempts=attempts, retry_on=frozenset(retry_on), **extra)


def dead_address() -> str:
    """A 127.0.0.1 port that nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_an_unavailable_answer_is_retried_on_the_other_endpoint(
    fake_server: Any, second_server: Any, golden: Any
) -> None:
    """Every try that reaches the failing endpoint fails UNAVAILABLE once; its retry goes to
    the healthy one, so the client sees no failure but counts the retries."""
    fake_server.fail_with = UNAVAILABLE
    upstream = Upstream((fake_server.address, second_server.address), None, route("unavailable"))
    result = run_load(constant(100, 1.0), lambda: upstream, golden=golden)
    totals = result.output.totals
    assert (totals.ok, totals.failed) == (100, 0)
    assert totals.retries == fake_server.received == 50  # round robin: every other request
    assert second_server.received == 100


def test_connect_failure_alone_does_not_retry_an_unavailable_answer(
    fake_server: Any, second_server: Any, golden: Any
) -> None:
    fake_server.fail_with = UNAVAILABLE
    upstream = Upstream(
        (fake_server.address, second_server.address), None, route("connect-failure")
    )
    result = run_load(constant(100, 1.0), lambda: upstream, golden=golden)
    totals = result.output.totals
    assert totals.by_status == {"UNAVAILABLE": 50}
    assert (totals.ok, totals.retries) == (50, 0)


def test_a_dead_endpoint_among_two_is_retried_onto_the_live_one(
    fake_server: Any, golden: Any
) -> None:
    addresses = (dead_address(), fake_server.address)
    retried = run_load(constant(100, 1.0), lambda: Upstream(addresses, None,
                                                            route("connect-failure")),
                       golden=golden)
    assert (retried.output.totals.ok, retried.output.totals.failed) == (100, 0)
    assert retried.output.totals.retries == 50
    plain = run_load(constant(100, 1.0), lambda: Upstream(addresses), golden=golden)
    assert plain.output.totals.by_status == {"UNAVAILABLE": 50}
    assert plain.output.totals.retries == 0


def test_no_retry_when_the_route_carries_a_fault(
    fake_server: Any, second_server: Any, golden: Any
) -> None:
    """Istio: retries are not enabled on a route with a client-side fault."""
    fake_server.fail_with = UNAVAILABLE
    policy = route("unavailable", "connect-failure", attempts=3, fault_on_route=True)
    upstream = Upstream((fake_server.address, second_server.address), None, policy)
    result = run_load(constant(100, 1.0), lambda: upstream, golden=golden)
    assert result.output.totals.by_status == {"UNAVAILABLE": 50}
    assert result.output.totals.retries == 0


def test_retries_are_in_the_json_and_the_series(
    fake_server: Any, second_server: Any, golden: Any
) -> None:
    fake_server.fail_with = UNAVAILABLE
    policy = route("unavailable")
    endpoint = Endpoint((fake_server.address, second_server.address), None, policy)
    result = run_load(constant(100, 1.5, warmup_s=0.5), lambda: endpoint, golden=golden)
    doc = result.to_dict(include_series=True)
    assert doc["totals"]["retries"] == result.output.totals.retries == 75
    assert doc["totals"]["failed"] == 0
    assert sum(row["retries"] for row in doc["series"]) == 100  # warm-up included
    assert doc["upstream"]["route"]["retry_on"] == ["unavailable"]
    assert doc["upstream"]["route"]["retries"] == 1
    assert list(result.series_frame()["retries"]) == [50, 50]


def test_a_per_try_timeout_is_retried_on_reset(
    fake_server: Any, second_server: Any, golden: Any
) -> None:
    """A stalled try is cut at perTryTimeout and retried elsewhere; the latency of such a
    request runs from its intended time, the cut try included."""
    fake_server.stall(time.time(), 30)
    policy = route("reset", per_try_timeout_s=0.2)
    upstream = Upstream((fake_server.address, second_server.address), None, policy)
    result = run_load(constant(20, 1.0), lambda: upstream, golden=golden)
    totals = result.output.totals
    assert (totals.ok, totals.failed, totals.retries) == (20, 0, 10)
    assert result.latency.get_value_at_percentile(40) < 150_000  # µs: first try answered
    assert result.latency.get_value_at_percentile(60) >= 200_000  # cut at 0.2 s, retried


def test_retries_stop_at_the_profile_deadline(fake_server: Any, golden: Any) -> None:
    """The profile's deadline bounds the whole request: tries to a stalled endpoint do not
    go on past it, and the request fails DEADLINE_EXCEEDED."""
    fake_server.stall(time.time(), 30)
    policy = route("reset", attempts=5, per_try_timeout_s=0.15)
    upstream = Upstream((fake_server.address,), None, policy)
    result = run_load(constant(10, 0.5, deadline_ms=400), lambda: upstream, golden=golden)
    totals = result.output.totals
    assert totals.by_status == {"DEADLINE_EXCEEDED": 5}
    assert 5 <= totals.retries <= 10  # 0.4 s holds at most 2 tries of 0.15 s after the first


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ("failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
         "Failed to connect to remote host: Connection refused", "connect-failure"),
        ("Socket closed", "reset"),
        ("recvmsg:Connection reset by peer", "reset"),
        ("upstream connect error or disconnect/reset before headers. reset reason: "
         "connection failure", None),
        ("fault filter abort", None),
        ("fake failure", None),
    ],
)
def test_transport_failures_are_told_from_answers(details: str, expected: str | None) -> None:
    assert transport_failure(UNAVAILABLE, details) == expected
    assert transport_failure(grpc.StatusCode.INTERNAL, details) is None


def test_the_rule_follows_envoys_names() -> None:
    assert RetryRule.from_route(None) is None
    assert RetryRule.from_route(route("unavailable", attempts=0)) is None
    assert RetryRule.from_route(route("unavailable", fault_on_route=True)) is None
    assert RetryRule.from_route(route("retriable-status-codes")) is None  # HTTP only
    rule = RetryRule.from_route(route("5xx", "resource-exhausted", attempts=2))
    assert rule is not None
    assert rule.transport == {"connect-failure", "refused-stream", "reset"}
    assert rule.retries_on(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full", False)
    assert not rule.retries_on(UNAVAILABLE, "fault filter abort", False)
    assert rule.retries_on(UNAVAILABLE, "Socket closed", False)
    assert rule.retries_on(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", True)
    assert not RetryRule(1, frozenset({"DEADLINE_EXCEEDED"}), frozenset(), None, 0.025
                         ).retries_on(grpc.StatusCode.DEADLINE_EXCEEDED, "", True)
    rng = random.Random(1)
    assert all(0 <= rule.backoff_s(1, rng) <= 0.025 for _ in range(100))
    assert max(rule.backoff_s(9, rng) for _ in range(100)) <= 0.25


def _mesh(retries: dict[str, Any] | None, fault: dict[str, Any] | None = None) -> MeshPolicy:
    return MeshPolicy(mtls_mode="STRICT", authorization=(), fault=fault, retries=retries,
                      timeout_s=5.0, subsets={}, route_weights={})


def test_the_local_target_reads_the_policy_from_the_virtual_service() -> None:
    default = route_policy(_mesh(None))
    assert (default.attempts, default.retry_on) == (2, RoutePolicy().retry_on)
    assert default.retry_on == {"connect-failure", "refused-stream", "unavailable", "cancelled"}
    assert default.timeout_s == 5.0
    reference = route_policy(_mesh({"attempts": 1, "perTryTimeout": "2s",
                                    "retryOn": "connect-failure,refused-stream"}))
    assert reference.retry_on == {"connect-failure", "refused-stream"}
    assert (reference.retries, reference.per_try_timeout_s) == (1, 2.0)
    assert route_policy(_mesh({"attempts": 0})).retries == 0
    assert route_policy(_mesh({"attempts": 3})).retry_on == RoutePolicy().retry_on
    faulted = route_policy(_mesh({"attempts": 3, "retryOn": "unavailable"},
                                 fault={"abort": {"grpcStatus": "UNAVAILABLE"}}))
    assert faulted.fault_on_route and faulted.retries == 0
