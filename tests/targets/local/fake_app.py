"""A tiny stand-in for a model server, for the supervisor's tests (no TensorFlow).

    python fake_app.py --grpc-port 8500 --http-port 8501 [--ready-path /ready]

Binds ``$TFSVERIFY_BIND_HOST`` (127.0.0.1 when unset): a gRPC server with the standard
health service (``grpc.health.v1.Health/Check`` answers SERVING for every service name)
and an HTTP server that answers 200 on ``--ready-path`` and 404 elsewhere. It exits 1 when
a port cannot be bound, and dies on SIGTERM unless ``--ignore-term`` (like TF Serving).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc

SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}


def _health_check(request: bytes, context: Any) -> bytes:
    return SERVING


def _http_handler(ready_path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = 200 if self.path == ready_path else 404
            body = b"ok\n" if code == 200 else b"not found\n"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--ready-path", default="/ready")
    parser.add_argument("--ignore-term", action="store_true")
    args = parser.parse_args()
    host = os.environ.get("TFSVERIFY_BIND_HOST", "127.0.0.1")
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2),
                         options=[("grpc.so_reuseport", 0)])
    handler = grpc.unary_unary_rpc_method_handler(_health_check)
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler})])
    try:
        server.add_insecure_port(f"{host}:{args.grpc_port}")
        http = ThreadingHTTPServer((host, args.http_port), _http_handler(args.ready_path))
    except (RuntimeError, OSError) as exc:
        print(f"fake_app: cannot bind {host}: {exc}", file=sys.stderr)
        return 1
    server.start()
    threading.Thread(target=http.serve_forever, daemon=True).start()
    print(f"fake_app: serving on {host}:{args.grpc_port} and {host}:{args.http_port}", flush=True)
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
