"""The one error tree of tfsverify.

Every error a user can cause or meet derives from :class:`TfsverifyError`. Foreign errors
(grpc, OSError, yaml, kubernetes) are translated at the boundary where they happen with
``raise ... from exc`` so the CLI can print one clear line and exit with the code below.

Exit codes (published contract):

====  =============================================================
0     every check passed
1     an SLO or regression assertion failed (:class:`SloBreach`)
2     bad input or usage: files, flags, settings (:class:`BadInput`)
3     the target or the infrastructure failed (:class:`TargetError`)
130   interrupted by Ctrl-C
====  =============================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BREACH = 1
EXIT_BAD_INPUT = 2
EXIT_TARGET = 3
EXIT_INTERRUPTED = 130


class TfsverifyError(Exception):
    """Root of every tfsverify error; ``str(err)`` is the one line shown to the user."""

    exit_code = EXIT_TARGET


class BadInput(TfsverifyError):
    """A file, flag or setting the user gave is wrong (malformed, unknown value, missing)."""

    exit_code = EXIT_BAD_INPUT


class ManifestError(BadInput):
    """A manifest of the reference deployment does not parse or holds a value we cannot honour."""


class TargetError(TfsverifyError):
    """The target or its infrastructure failed: not running, unreachable, a port in use."""

    exit_code = EXIT_TARGET


class TargetNotRunning(TargetError):
    """An operation needs a running target and there is none."""


class SloBreach(TfsverifyError):
    """At least one SLO assertion failed."""

    exit_code = EXIT_BREACH
