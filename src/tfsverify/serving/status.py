"""Request errors of the model server, carrying TF Serving's canonical codes.

A :class:`ServingError` becomes a gRPC status (``grpc.StatusCode[code]``) on the gRPC port
and ``{"error": message}`` with :func:`http_status` on the REST port, as in TF Serving's
``http_server.cc``. Messages follow TF Serving's wording, so clients that match on them work.
"""

from __future__ import annotations

# canonical code name -> number (google.rpc.Code / tensorflow.error.Code)
CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}
CODE_NAMES = {number: name for name, number in CODES.items()}

_HTTP = {
    "OK": 200,
    "CANCELLED": 499,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "UNAUTHENTICATED": 401,
}


class ServingError(Exception):
    """A request failed with canonical ``code`` (e.g. ``NOT_FOUND``) and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown status code {code}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def not_found(message: str) -> ServingError:
    return ServingError("NOT_FOUND", message)


def invalid(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def http_status(code: str) -> int:
    """The HTTP status TF Serving's REST API answers for canonical ``code``."""
    return _HTTP.get(code, 500)
