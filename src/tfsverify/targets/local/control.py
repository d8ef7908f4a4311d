"""The local supervisor's control API and published status, for LocalTarget and the CLI.

Protocol: the unix socket ``<state dir>/control.sock``; one JSON request per line,
``{"op": ..., ...}``, answered by one JSON line: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "<one line>", "kind": "BadInput" | "TargetError"}``.

====================================================  =====================================
op and arguments                                      result
====================================================  =====================================
``ping``                                              ``{"pid", "pods"}``
``status``                                            the status document (``status.json``)
``delete_pods {names, grace_s?}``                     the names (graceful; 0 kills now)
``kill_container {pod, container, signal}``           ``["<pod>/<container>"]``; KILL or TERM
``cordon {node}`` / ``uncordon {node}``               ``[node]``
``drain {node, drain_timeout_s?}``                    the evicted pods, once they are gone
``set_fault {fault}`` / ``clear_fault``               the pods whose sidecars applied it
``set_route_weights {weights: {subset: int}}``        the destinations whose weight changed
``shutdown``                                          ``true``; then the supervisor exits
====================================================  =====================================
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

from tfsverify.errors import BadInput, TargetError, TargetNotRunning, TfsverifyError

SOCKET_NAME = "control.sock"
_SOCKET_PATH_MAX_B = 107  # sun_path is 108 bytes with the terminating NUL
_LINE_LIMIT_B = 1 << 20
_DEFAULT_TIMEOUT_S = 30.0
_DRAIN_TIMEOUT_S = 120.0

Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


def pid_alive(pid: object, started_epoch_s: float | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie), and started by ``started_epoch_s`` when given."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started_epoch_s is None or process.create_time() <= started_epoch_s + 1.0
    except psutil.Error:
        return False


# server --------------------------------------------------------------------------------
async def serve_control(path: Path, handler: Handler) -> asyncio.AbstractServer:
    """Listen on ``path``; each request line is answered with ``handler(op, arguments)``."""
    if len(os.fsencode(path)) > _SOCKET_PATH_MAX_B:
        raise TargetError(f"state directory path too long for a unix socket: {path}")
    path.unlink(missing_ok=True)

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = await _answer(line, handler)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError):
            pass  # the client went away, or sent a line over the limit
        finally:
            writer.close()

    try:
        server = await asyncio.start_unix_server(on_client, path=str(path), limit=_LINE_LIMIT_B)
    except OSError as exc:
        raise TargetError(f"cannot listen on {path}: {exc.strerror}") from exc
    os.chmod(path, 0o600)
    return server


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def _answer(line: bytes, handler: Handler) -> dict[str, Any]:
    try:
        try:
            request = json.loads(line)
        except ValueError as exc:
            raise BadInput(f"request is not JSON: {exc}") from exc
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            raise BadInput('a request is a JSON object with a string "op"')
        op = request.pop("op")
        return {"ok": True, "result": await handler(op, request)}
    except BadInput as exc:
        return {"ok": False, "error": _one_line(str(exc)), "kind": "BadInput"}
    except TfsverifyError as exc:
        return {"ok": False, "error": _one_line(str(exc)), "kind": "TargetError"}
    except Exception as exc:  # a bug must not take the daemon down; report it
        return {"ok": False, "error": _one_line(f"internal error: {exc!r}"), "kind": "TargetError"}


# client --------------------------------------------------------------------------------
class ControlClient:
    """Calls the supervisor of ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / SOCKET_NAME

    def call(self, op: str, timeout_s: float | None = None, **arguments: Any) -> Any:
        """Run ``op``; its result. Raises TargetNotRunning, TargetError or BadInput."""
        if timeout_s is None:
            timeout_s = _DEFAULT_TIMEOUT_S
            if op == "drain":
                timeout_s += float(arguments.get("drain_timeout_s") or _DRAIN_TIMEOUT_S)
        request = (json.dumps({"op": op, **arguments}) + "\n").encode()
        deadline = time.monotonic() + timeout_s
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            try:
                sock.connect(str(self.path))
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                raise TargetNotRunning(f"the local target is not running (no supervisor "
                                       f"listens on {self.path})") from exc
            except OSError as exc:
                raise TargetError(f"cannot reach the local target at {self.path}: {exc}") from exc
            try:
                sock.sendall(request)
                raw = _read_line(sock, deadline)
            except TimeoutError as exc:
                raise TargetError(f"the local target did not answer {op} within "
                                  f"{timeout_s:g} s") from exc
            except OSError as exc:
                raise TargetError(f"the local target's control socket failed during {op}: "
                                  f"{exc}") from exc
        if not raw:
            raise TargetError(f"the local target closed the control socket during {op}")
        reply = json.loads(raw)
        if reply.get("ok"):
            return reply.get("result")
        error = reply.get("error") or f"{op} failed"
        raise BadInput(error) if reply.get("kind") == "BadInput" else TargetError(error)


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


def read_status(state_dir: Path) -> dict[str, Any]:
    """The published ``status.json`` of a running supervisor (TargetNotRunning otherwise;
    the message carries the start-up error of one that failed)."""
    path = Path(state_dir) / "status.json"
    try:
        status: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise TargetNotRunning(f"the local target is not running (no {path})") from exc
    except (OSError, ValueError) as exc:
        raise TargetError(f"cannot read {path}: {exc}") from exc
    running = (Path(state_dir) / "supervisor.pid").exists() and pid_alive(
        status.get("supervisor_pid"), status.get("started_epoch_s"))
    if not running:
        failed = status.get("startup_error")
        raise TargetNotRunning("the local target is not running" +
                               (f": it failed to start: {failed}" if failed else ""))
    return status


__all__ = ["ControlClient", "pid_alive", "read_status", "serve_control"]
