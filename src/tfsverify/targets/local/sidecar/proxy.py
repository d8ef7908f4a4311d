"""The inbound filter chain: identity, fault injection, RBAC, forwarding, metrics.

Every unary gRPC method is proxied as raw bytes (no message classes), so the sidecar works
for any service. Per call, in Istio's order: the peer's principal comes from the TLS
handshake (``peer_spiffe_id``, else the URI SAN); a VirtualService fault may delay, then
abort the call (``fault filter abort``); AuthorizationPolicy may deny it (PERMISSION_DENIED,
``RBAC: access denied``, the app is not contacted); otherwise the call goes to the app over
one reused plaintext channel with the caller's remaining deadline, and the app's status code
and details come back unchanged. An unreachable app gives UNAVAILABLE with Envoy's
``upstream connect error ...`` message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import grpc

from tfsverify.targets.local.sidecar import authz, faults
from tfsverify.targets.local.sidecar.config import Address, MeshConfig
from tfsverify.targets.local.sidecar.metrics import RequestOutcome, SidecarMetrics

log = logging.getLogger("tfsverify.sidecar")

RBAC_DENIED = "RBAC: access denied"
UPSTREAM_CONNECT_ERROR = "upstream connect error or disconnect/reset before headers. reset reason: "
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    # reconnect soon after the app comes back, like Envoy connecting per request
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]
_DROPPED_HEADERS = {"user-agent", "content-type", "te", "host", "x-forwarded-client-cert"}
_MAX_CACHED_METHODS = 1024


def peer_identity(auth: Mapping[str, Sequence[bytes]]) -> tuple[str | None, bool]:
    """``(principal, mutual_tls)`` from a gRPC auth context; principal without ``spiffe://``."""
    if auth.get("transport_security_type", [b""])[0] != b"ssl":
        return None, False
    candidates = list(auth.get("peer_spiffe_id", ())) + list(
        auth.get("x509_subject_alternative_name", ()))
    for raw in candidates:
        value = raw.decode("utf-8", "replace")
        if value.startswith("spiffe://"):
            return value[len("spiffe://"):], True
    return None, True


class Upstream:
    """One plaintext channel to the app, shared by all calls; create inside the event loop."""

    def __init__(self, address: Address) -> None:
        self._channel = grpc.aio.insecure_channel(str(address), options=_CHANNEL_OPTIONS)
        self._calls: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}

    def call(self, method: str, request: bytes, timeout_s: float | None,
             metadata: list[tuple[str, Any]]) -> Awaitable[bytes]:
        stub = self._calls.get(method)
        if stub is None:
            if len(self._calls) >= _MAX_CACHED_METHODS:
                self._calls.clear()
            stub = self._calls[method] = self._channel.unary_unary(method)
        return stub(request, timeout=timeout_s, metadata=metadata)

    async def close(self) -> None:
        await self._channel.close()


class ProxyHandler(grpc.GenericRpcHandler):
    """Handles every unary method; reads the current mesh config on each call."""

    def __init__(self, *, mesh: Callable[[], MeshConfig], upstream: Upstream,
                 metrics: SidecarMetrics, rng: random.Random, port: int, principal: str) -> None:
        self._mesh = mesh
        self._upstream = upstream
        self._metrics = metrics
        self._rng = rng
        self._port = port
        self._by = f"By=spiffe://{principal}"
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            if len(self._handlers) >= _MAX_CACHED_METHODS:
                self._handlers.clear()

            async def behaviour(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
                return await self._handle(method, request, context)

            handler = self._handlers[method] = grpc.unary_unary_rpc_method_handler(behaviour)
        return handler

    async def _handle(self, method: str, request: bytes,
                      context: grpc.aio.ServicerContext) -> bytes:
        start = time.perf_counter()
        mesh = self._mesh()
        principal, mtls = peer_identity(context.auth_context())
        flags: list[str] = []
        http_code, status = 200, grpc.StatusCode.OK
        try:
            draw = faults.draw(mesh.fault, self._rng)
            if draw.delay_s:
                flags.append("DI")
                await asyncio.sleep(draw.delay_s)
            if draw.abort_code is not None:
                flags.append("FI")
                status = draw.abort_code
                http_code = (mesh.fault.abort_http_status if mesh.fault else None) or 200
                await context.abort(status, faults.ABORT_MESSAGE)
            headers = {k: v for k, v in context.invocation_metadata() or ()
                       if isinstance(v, str)}
            decision = authz.evaluate(mesh.policies,
                                      authz.Request(principal, method, self._port, headers))
            if not decision.allowed:
                http_code, status = 403, grpc.StatusCode.PERMISSION_DENIED
                await context.abort(status, RBAC_DENIED)
            metadata = [(k, v) for k, v in context.invocation_metadata() or ()
                        if k not in _DROPPED_HEADERS and not k.startswith((":", "grpc-"))]
            if principal:
                metadata.append(("x-forwarded-client-cert", f"{self._by};URI=spiffe://{principal}"))
            try:
                return await self._upstream.call(method, request, context.time_remaining(),
                                                 metadata)
            except grpc.aio.AioRpcError as exc:
                status, details = exc.code(), exc.details() or ""
                http_code, details = _classify_upstream_error(status, details, flags)
                await context.abort(status, details)
                raise  # unreachable: abort raises
        except grpc.aio.AbortError:
            raise
        except Exception:
            http_code, status = 500, grpc.StatusCode.UNKNOWN
            log.exception("proxying %s failed", method)
            raise
        except asyncio.CancelledError:
            remaining = context.time_remaining()
            timed_out = remaining is not None and remaining <= 0
            status = grpc.StatusCode.DEADLINE_EXCEEDED if timed_out else grpc.StatusCode.CANCELLED
            http_code = 0
            flags.append("DC")
            raise
        finally:
            self._metrics.record(RequestOutcome(
                principal, mtls, http_code, status.value[0], tuple(flags),
                (time.perf_counter() - start) * 1000.0))


def _classify_upstream_error(status: grpc.StatusCode, details: str,
                             flags: list[str]) -> tuple[int, str]:
    """Tell the app's own errors from failures to reach it; returns (http code, details)."""
    if status is grpc.StatusCode.UNAVAILABLE:
        if "failed to connect" in details or "Connection refused" in details:
            flags.append("UF")
            return 503, UPSTREAM_CONNECT_ERROR + "connection failure"
        if "Socket closed" in details or "Connection reset" in details:
            flags.append("UC")
            return 503, UPSTREAM_CONNECT_ERROR + "connection termination"
    if status is grpc.StatusCode.DEADLINE_EXCEEDED and details == "Deadline Exceeded":
        flags.append("UT")
    return 200, details
