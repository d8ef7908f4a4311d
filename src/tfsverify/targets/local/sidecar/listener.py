"""The pod's inbound listener, bound the way PeerAuthentication's mTLS mode says.

- STRICT: a gRPC server with ``require_client_auth=True`` and the mesh CA as the only root,
  bound directly on the pod address. Plaintext, a client without a certificate or with a
  certificate of another CA fails the handshake (the client sees UNAVAILABLE).
- PERMISSIVE: a small TCP front on the pod address peeks at the first byte of each
  connection (``0x16`` opens a TLS handshake) and pipes it to an internal mTLS or plaintext
  port of the gRPC server on 127.0.0.1, so one port accepts both, as Istio's does.
- DISABLE: plaintext only, bound directly.

A mode change rebinds: :meth:`MeshListener.stop` then :meth:`MeshListener.start`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

import grpc

from tfsverify.errors import TargetError
from tfsverify.targets.local.sidecar.config import Address, TlsFiles

log = logging.getLogger("tfsverify.sidecar")

TLS_HANDSHAKE = 0x16
_SERVER_OPTIONS = [
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
]
_FIRST_BYTE_TIMEOUT_S = 10.0
_CHUNK = 65536


class MeshListener:
    """Owns the gRPC server (and in PERMISSIVE the TCP front) for one mTLS mode at a time."""

    def __init__(self, listen: Address, tls: TlsFiles, handler: grpc.GenericRpcHandler) -> None:
        self._listen = listen
        self._tls = tls
        self._handler = handler
        self._server: grpc.aio.Server | None = None
        self._front: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._ports: tuple[int, int] = (0, 0)  # internal (mTLS, plaintext) in PERMISSIVE
        self.mode: str | None = None

    async def start(self, mode: str) -> None:
        """Bind for ``mode``; :class:`TargetError` when the pod address is in use."""
        _check_free(self._listen)
        server = grpc.aio.server(options=_SERVER_OPTIONS)
        server.add_generic_rpc_handlers((self._handler,))
        try:
            if mode == "STRICT":
                server.add_secure_port(str(self._listen), self._credentials())
            elif mode == "DISABLE":
                server.add_insecure_port(str(self._listen))
            else:
                self._ports = (server.add_secure_port("127.0.0.1:0", self._credentials()),
                               server.add_insecure_port("127.0.0.1:0"))
        except RuntimeError as exc:
            raise TargetError(f"cannot listen on {self._listen}: address in use") from exc
        await server.start()
        self._server = server
        if mode == "PERMISSIVE":
            try:
                self._front = await asyncio.start_server(
                    self._pipe, self._listen.host, self._listen.port, reuse_address=True)
            except OSError as exc:
                await self.stop(0)
                raise TargetError(f"cannot listen on {self._listen}: {exc.strerror}") from exc
        self.mode = mode

    async def stop(self, grace_s: float) -> None:
        """Stop accepting; let calls in flight finish for up to ``grace_s``; close."""
        if self._front is not None:
            self._front.close()
            for writer in list(self._pipes):
                writer.close()
            self._front = None
        if self._server is not None:
            await self._server.stop(grace_s)
            self._server = None
        self.mode = None

    def _credentials(self) -> grpc.ServerCredentials:
        try:
            key, cert = self._tls.key.read_bytes(), self._tls.cert.read_bytes()
            ca = self._tls.ca.read_bytes()
        except OSError as exc:
            raise TargetError(f"cannot read the sidecar's TLS files: {exc.strerror}") from exc
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                           require_client_auth=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """PERMISSIVE: route one accepted connection by its first byte."""
        self._pipes.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            first = await asyncio.wait_for(reader.read(1), _FIRST_BYTE_TIMEOUT_S)
            if not first:
                return
            port = self._ports[0] if first[0] == TLS_HANDSHAKE else self._ports[1]
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", port)
            upstream.write(first)
            await asyncio.gather(_copy(reader, upstream), _copy(up_reader, writer))
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._pipes.discard(writer)
            for w in (writer, upstream):
                if w is not None:
                    w.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


def _check_free(address: Address) -> None:
    """Fail with one clear line, before gRPC logs its own, when the address is taken."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address.host, address.port))
        except OSError as exc:
            reason = "address in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise TargetError(f"cannot listen on {address}: {reason}") from exc
