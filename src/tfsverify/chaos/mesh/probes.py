"""mTLS and authorization checks: one real Predict call each, through a ready pod's mesh
proxy, as the named kind of client. Each returns True when the mesh behaved as the
reference PeerAuthentication (STRICT) and AuthorizationPolicy require; the reason is kept
for the report."""

from __future__ import annotations

from tfsverify.chaos import context
from tfsverify.chaos.target import current_target
from tfsverify.targets.base import SecurityCheck

__all__ = [
    "authorised_call_succeeds",
    "foreign_ca_rejected",
    "plaintext_call_rejected",
    "unauthorised_principal_denied",
]


def _passed(check: SecurityCheck) -> bool:
    context.note(check.detail)
    return check.passed


def plaintext_call_rejected() -> bool:
    """True when a client without TLS is refused (the handshake fails: UNAVAILABLE)."""
    return _passed(current_target().plaintext_call_rejected())


def foreign_ca_rejected() -> bool:
    """True when a client whose certificate another CA signed, claiming the authorised
    identity, is refused at the handshake."""
    return _passed(current_target().foreign_ca_rejected())


def unauthorised_principal_denied() -> bool:
    """True when a valid mesh identity that the AuthorizationPolicy does not allow gets
    PERMISSION_DENIED."""
    return _passed(current_target().unauthorised_principal_denied())


def authorised_call_succeeds() -> bool:
    """True when the load generator's identity gets status OK and the golden answer."""
    return _passed(current_target().authorised_call_succeeds())
