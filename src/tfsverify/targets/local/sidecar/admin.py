"""The sidecar's plaintext admin port (Envoy admin + pilot-agent's 15020/15021 in one).

=======================  ===================================================================
``GET /healthz/ready``   200 once the pod address is listening, else 503
``GET /stats/prometheus``  the sidecar's Istio metrics followed by the app's own metrics
                         fetched from ``app_metrics_url`` (Istio's metrics merging); when the
                         app does not answer, the sidecar's metrics alone
``GET /config_dump``     JSON: ``version`` and ``mtls_mode`` of the applied mesh config, the
                         policy names, the fault, and the last rejected config (or null)
``POST /quitquitquit``   exits the sidecar, like pilot-agent's endpoint
=======================  ===================================================================
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any

from tfsverify.errors import TargetError
from tfsverify.targets.local.sidecar.config import Address

log = logging.getLogger("tfsverify.sidecar")

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_APP_METRICS_TIMEOUT_S = 2.0
_REQUEST_TIMEOUT_S = 5.0
_MAX_HEAD = 8192
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class AdminServer:
    def __init__(self, address: Address, *, ready: Callable[[], bool],
                 config_dump: Callable[[], dict[str, Any]], metrics: Callable[[], bytes],
                 app_metrics_url: str | None, on_quit: Callable[[], None]) -> None:
        self._address = address
        self._ready = ready
        self._config_dump = config_dump
        self._metrics = metrics
        self._app_metrics_url = app_metrics_url
        self._quit = on_quit
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._serve, self._address.host, self._address.port, reuse_address=True)
        except OSError as exc:
            raise TargetError(f"cannot listen on {self._address} (admin): {exc.strerror}") from exc

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_TIMEOUT_S)
            method, _, rest = head[:_MAX_HEAD].decode("latin-1").partition(" ")
            path = rest.partition(" ")[0].partition("?")[0]
            status, ctype, body = await self._route(method, path)
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        text = "text/plain; charset=utf-8"
        if path == "/quitquitquit":
            if method != "POST":
                return 405, text, b"POST only\n"
            asyncio.get_running_loop().call_soon(self._quit)
            return 200, text, b"OK\n"
        if method != "GET":
            return 405, text, b"GET only\n"
        if path == "/healthz/ready":
            return (200, text, b"ready\n") if self._ready() else (503, text, b"not ready\n")
        if path == "/config_dump":
            return 200, "application/json", json.dumps(self._config_dump()).encode()
        if path == "/stats/prometheus":
            body = self._metrics()
            if self._app_metrics_url:
                app = await asyncio.to_thread(_fetch, self._app_metrics_url)
                body = body + app
            return 200, PROMETHEUS_TEXT, body
        return 404, text, b"not found\n"


def _fetch(url: str) -> bytes:
    """The app's metrics text, or nothing when the app does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=_APP_METRICS_TIMEOUT_S) as response:
            data: bytes = response.read()
    except (OSError, ValueError):
        return b""
    return data if data.endswith(b"\n") or not data else data + b"\n"
