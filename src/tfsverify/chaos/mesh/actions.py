"""Mesh actions: inject and clear an Istio-style gRPC fault on the route to the model
servers (a VirtualService ``fault`` with ``grpcStatus`` and an explicit ``percentage``)."""

from __future__ import annotations

import grpc

from tfsverify.chaos import context
from tfsverify.chaos.blast import check_pct
from tfsverify.chaos.target import current_target
from tfsverify.errors import BadInput
from tfsverify.targets.base import GrpcFault

__all__ = ["clear_grpc_faults", "inject_grpc_fault"]

_STATUSES = {code.name for code in grpc.StatusCode if code is not grpc.StatusCode.OK}


def inject_grpc_fault(abort_status: str = "UNAVAILABLE", abort_pct: float = 20,
                      delay_ms: float = 0, delay_pct: float = 0,
                      max_pct: float = 50) -> list[str]:
    """Abort ``abort_pct`` percent of the requests with gRPC status ``abort_status`` and
    delay ``delay_pct`` percent by ``delay_ms`` milliseconds, until ``clear_grpc_faults``.

    Returns once every sidecar applies it, with the pods whose sidecars did. Refused when
    ``abort_pct`` or ``delay_pct`` is above ``max_pct`` (the cap of this action).
    """
    if abort_status not in _STATUSES:
        raise BadInput(f"abort_status={abort_status!r}: not a gRPC status name "
                       "(e.g. UNAVAILABLE, INTERNAL)")
    check_pct(abort_pct, max_pct, "abort_pct")
    check_pct(delay_pct, max_pct, "delay_pct")
    if delay_ms < 0:
        raise BadInput(f"delay_ms={delay_ms:g}: must be at least 0")
    if abort_pct == 0 and (delay_pct == 0 or delay_ms == 0):
        raise BadInput("nothing to inject: abort_pct is 0 and no delay was asked for")
    target = current_target()
    log = context.fault_log()
    log.record("grpc_fault", f"abort {abort_status} {abort_pct:g}%, delay {delay_ms:g} ms "
               f"{delay_pct:g}%", context.experiment())
    touched = target.inject_grpc_fault(GrpcFault(abort_status, abort_pct, delay_ms, delay_pct))
    context.note(f"abort {abort_status} for {abort_pct:g} %, delay {delay_ms:g} ms for "
                 f"{delay_pct:g} %, applied by {len(touched)} sidecars")
    return touched


def clear_grpc_faults() -> list[str]:
    """Remove every injected mesh fault; returns the pods whose sidecars applied the change."""
    target = current_target()
    log = context.fault_log()
    touched = target.clear_faults()
    for fault in log.open_faults():
        if fault.kind == "grpc_fault":
            log.mark_undone(fault.id, "cleared the mesh fault")
    return touched
