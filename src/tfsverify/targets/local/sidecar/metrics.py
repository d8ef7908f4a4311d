"""Istio's standard request metrics, as the destination sidecar reports them.

``istio_requests_total`` and ``istio_request_duration_milliseconds`` with Istio's names,
default buckets and label values: principals as SPIFFE URIs (``spiffe://cluster.local/ns/
X/sa/Y``) or ``unknown``; ``response_code`` the HTTP status (``200`` for every gRPC response
that reached the app or was aborted with a grpcStatus fault; ``403`` for an RBAC denial,
``503`` when the app could not be reached); ``grpc_response_status`` the numeric status;
``response_flags`` Envoy's flags (``-``, ``DI`` delay injected, ``FI`` fault abort,
``UF`` upstream connection failure, ``UT`` upstream timeout, ``DC`` downstream cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram

# Istio's default buckets for istio_request_duration_milliseconds
DURATION_BUCKETS_MS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
                       60000, 300000, 600000, 1800000, 3600000)
LABELS = ("reporter", "source_principal", "destination_workload",
          "destination_workload_namespace", "destination_principal", "request_protocol",
          "response_code", "grpc_response_status", "connection_security_policy",
          "response_flags")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class RequestOutcome:
    """One finished request, as the sidecar observed it."""

    source_principal: str | None  # "cluster.local/ns/X/sa/Y" or None (plaintext)
    mutual_tls: bool
    response_code: int
    grpc_status: int
    flags: tuple[str, ...]
    duration_ms: float


class SidecarMetrics:
    """The sidecar's metrics in their own registry; :meth:`render` gives Prometheus text."""

    def __init__(self, workload: str, namespace: str, principal: str) -> None:
        prometheus_client.disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=False)
        self._requests = Counter("istio_requests_total", "Requests handled by the sidecar",
                                 LABELS, registry=self.registry)
        self._duration = Histogram("istio_request_duration_milliseconds",
                                   "Request duration in milliseconds", LABELS,
                                   buckets=DURATION_BUCKETS_MS, registry=self.registry)
        self._workload = workload
        self._namespace = namespace
        self._principal = f"spiffe://{principal}"

    def record(self, outcome: RequestOutcome) -> None:
        labels = (
            "destination",
            f"spiffe://{outcome.source_principal}" if outcome.source_principal else UNKNOWN,
            self._workload,
            self._namespace,
            self._principal if outcome.mutual_tls else UNKNOWN,
            "grpc",
            str(outcome.response_code),
            str(outcome.grpc_status),
            "mutual_tls" if outcome.mutual_tls else "none",
            ",".join(outcome.flags) or "-",
        )
        self._requests.labels(*labels).inc()
        self._duration.labels(*labels).observe(outcome.duration_ms)

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)
