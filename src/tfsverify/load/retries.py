"""The mesh route's retry policy, applied by the load client as Envoy applies it.

A meshed client's sidecar retries a failed request when the route's ``retryOn`` names the
failure. Two kinds of names, as in Envoy:

- gRPC retry-on names match the ``grpc-status`` of an *answer*: ``cancelled``,
  ``deadline-exceeded``, ``internal``, ``resource-exhausted``, ``unavailable``;
- Envoy retry-on names match a failure of the client's *own connection*, which gRPC reports
  as UNAVAILABLE with the transport's words: ``connect-failure`` (refused, unreachable, TLS
  handshake failed), ``refused-stream`` (HTTP/2 REFUSED_STREAM) and ``reset`` (connection
  closed or reset before the answer; a per-try timeout counts as one). ``5xx`` covers the
  three, ``gateway-error`` connect failures and resets.

An UNAVAILABLE that a remote proxy sent (Envoy's ``upstream connect error ...``, or an
injected ``fault filter abort``) is an answer, not a transport failure: only
``unavailable`` retries it. Each retry goes to another ready endpoint when there is one
(Istio's ``retryIgnorePreviousHosts``) after Envoy's jittered back-off: a random wait in
``[0, (2^n - 1) * base]`` before retry ``n``, at most ``10 * base``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

from tfsverify.targets.base import RoutePolicy

GRPC_RETRY_ON = {
    "cancelled": "CANCELLED",
    "deadline-exceeded": "DEADLINE_EXCEEDED",
    "internal": "INTERNAL",
    "resource-exhausted": "RESOURCE_EXHAUSTED",
    "unavailable": "UNAVAILABLE",
}
TRANSPORT_RETRY_ON = {
    "connect-failure": frozenset({"connect-failure"}),
    "refused-stream": frozenset({"refused-stream"}),
    "reset": frozenset({"reset"}),
    "5xx": frozenset({"connect-failure", "refused-stream", "reset"}),
    "gateway-error": frozenset({"connect-failure", "reset"}),
}
# lower-case fragments of grpc-core's transport error texts
_CONNECT_FAILURE = ("failed to connect", "connection refused", "connections to all backends",
                    "handshake", "no route to host", "network is unreachable")
_REFUSED_STREAM = ("refused stream", "stream refused", "refused_stream")
_RESET = ("socket closed", "connection reset", "broken pipe", "stream removed", "goaway",
          "end of tcp stream", "connection aborted")
_REMOTE_PROXY = ("upstream connect error", "fault filter abort", "no healthy upstream")
_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
_DEADLINE_EXCEEDED = grpc.StatusCode.DEADLINE_EXCEEDED


def transport_failure(code: grpc.StatusCode, details: str) -> str | None:
    """``connect-failure``, ``refused-stream`` or ``reset`` when an UNAVAILABLE came from the
    client's own connection; ``None`` for an answer from the other end."""
    if code is not _UNAVAILABLE:
        return None
    text = details.lower()
    if any(words in text for words in _REMOTE_PROXY):
        return None
    if any(words in text for words in _REFUSED_STREAM):
        return "refused-stream"
    if any(words in text for words in _CONNECT_FAILURE):
        return "connect-failure"
    if any(words in text for words in _RESET):
        return "reset"
    return None


@dataclass(frozen=True)
class RetryRule:
    """What the client retries, compiled once from a :class:`RoutePolicy` with retries."""

    retries: int
    statuses: frozenset[str]  # gRPC status names of answers to retry
    transport: frozenset[str]  # transport failures to retry
    per_try_timeout_s: float | None
    backoff_base_s: float

    @classmethod
    def from_route(cls, route: RoutePolicy | None) -> RetryRule | None:
        """The rule, or ``None`` when the route allows no retry (or there is no route)."""
        if route is None or route.retries <= 0:
            return None
        names = {name.strip().lower() for name in route.retry_on}
        statuses = frozenset(GRPC_RETRY_ON[n] for n in names if n in GRPC_RETRY_ON)
        transport = frozenset().union(*(TRANSPORT_RETRY_ON[n] for n in names
                                        if n in TRANSPORT_RETRY_ON))
        if not statuses and not transport:
            return None
        return cls(route.retries, statuses, transport, route.per_try_timeout_s,
                   route.backoff_base_s)

    def retries_on(self, code: grpc.StatusCode, details: str, per_try_timed_out: bool) -> bool:
        """Whether a try that failed with ``code``/``details`` is retried."""
        if per_try_timed_out:
            return "reset" in self.transport
        failure = transport_failure(code, details)
        if failure is not None:
            return failure in self.transport
        return code.name in self.statuses

    def backoff_s(self, retry: int, rng: random.Random) -> float:
        """Envoy's jittered exponential back-off before retry number ``retry`` (from 1)."""
        if self.backoff_base_s <= 0:
            return 0.0
        ceiling = min((2**retry - 1) * self.backoff_base_s, 10 * self.backoff_base_s)
        return rng.uniform(0.0, ceiling)


def per_try_timed_out(code: grpc.StatusCode, elapsed_s: float, try_timeout_s: float) -> bool:
    """Whether a DEADLINE_EXCEEDED is the client's own timer for this try going off."""
    return code is _DEADLINE_EXCEEDED and elapsed_s >= try_timeout_s - 0.001
