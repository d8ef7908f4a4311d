"""Kubernetes probes as the kubelet runs them, and their thresholds.

- gRPC: ``grpc.health.v1.Health/Check`` with the probe's service name; healthy only when
  the answer is SERVING.
- httpGet: ``GET http://<host>:<port><path>``; a status of 200-399 is healthy.
- tcpSocket: a connection opens.

Each check gives up after the probe's ``timeout_s``. Failure messages read like the
kubelet's (they end up in ``Unhealthy`` events).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tfsverify.targets.local.spec import Probe

_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
_SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
_MAX_BODY_B = 1 << 20
# gRPC probes block a thread for up to their timeout: a pool of their own, so a few slow
# ones do not delay the others (threads start on first use)
_GRPC_PROBES = ThreadPoolExecutor(max_workers=16, thread_name_prefix="grpc-probe")


async def probe_once(probe: Probe, host: str) -> str | None:
    """Run ``probe`` against ``host``: None when healthy, else why not."""
    if probe.grpc_port is not None:
        return await asyncio.get_running_loop().run_in_executor(
            _GRPC_PROBES, _grpc_check, f"{host}:{probe.grpc_port}", probe.grpc_service,
            probe.timeout_s)
    if probe.http_port is not None:
        url = f"http://{host}:{probe.http_port}{probe.http_path or '/'}"
        try:
            status, _ = await http_get(host, probe.http_port, probe.http_path or "/",
                                       probe.timeout_s)
        except TimeoutError:
            return f'Get "{url}": context deadline exceeded (Client.Timeout exceeded)'
        except OSError as exc:
            return f'Get "{url}": dial tcp {host}:{probe.http_port}: {_why(exc)}'
        return None if 200 <= status < 400 else f"HTTP probe failed with statuscode: {status}"
    if probe.tcp_port is not None:
        try:
            async with asyncio.timeout(probe.timeout_s):
                _, writer = await asyncio.open_connection(host, probe.tcp_port)
                writer.close()
        except (OSError, TimeoutError) as exc:
            return f"dial tcp {host}:{probe.tcp_port}: {_why(exc)}"
        return None
    return None  # a probe with no handler the local target runs (exec) always passes


async def http_get(host: str, port: int, path: str, timeout_s: float) -> tuple[int, bytes]:
    """A minimal HTTP/1.0 GET: (status, body). Raises OSError or TimeoutError."""
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n"
                         "User-Agent: kube-probe/1.32\r\nAccept: */*\r\n\r\n".encode())
            await writer.drain()
            response = b""
            while len(response) < _MAX_BODY_B:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                response += chunk
        finally:
            writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"malformed HTTP response from {host}:{port}")
    return int(parts[1]), body


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "i/o timeout"
    if isinstance(exc, OSError) and exc.errno:
        return f"connect: {os.strerror(exc.errno).lower()}"
    return str(exc) or type(exc).__name__


def _grpc_check(target: str, service: str, timeout_s: float) -> str | None:
    import grpc  # only probes of gRPC containers pay for the import

    request = b"\n" + _varint(len(service.encode())) + service.encode() if service else b""
    options = [("grpc.enable_retries", 0), ("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(target, options=options) as channel:
        check = channel.unary_unary(_HEALTH_CHECK)
        try:
            reply = check(request, timeout=timeout_s)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
                return (f'timeout: failed to connect service "{target}" within '
                        f"{timeout_s:g}s: context deadline exceeded")
            details = exc.details() if hasattr(exc, "details") else str(exc)
            return f"rpc error: code = {code.name if code else 'Unknown'} desc = {details}"
    status = _health_status(reply)
    if status != 1:
        return f'service unhealthy (responded with "{_SERVING_STATUS.get(status, status)}")'
    return None


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _health_status(reply: bytes) -> int:
    """Field 1 (status) of a HealthCheckResponse; 0 (UNKNOWN) when absent."""
    if len(reply) >= 2 and reply[0] == 0x08:
        return reply[1] & 0x7F
    return 0


@dataclass
class ProbeCounter:
    """Consecutive successes and failures against a probe's thresholds."""

    probe: Probe
    successes: int = 0
    failures: int = 0

    def record(self, healthy: bool) -> bool | None:
        """Count one result; True/False when a threshold is reached, else None."""
        if healthy:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= self.probe.success_threshold:
                return True
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= self.probe.failure_threshold:
                return False
        return None
