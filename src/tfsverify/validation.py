"""JSON Schema errors as the one line a user reads: ``field.path: what is wrong``.

Shared by every file format tfsverify validates (load profiles, SLO sets, the perf plan),
so a bad field reads the same way whichever file it is in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError


def format_path(parts: Iterable[str | int]) -> str:
    """``['stages', 1, 'rate_rps']`` -> ``stages[1].rate_rps``; the top level is ``(top)``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    """Every problem with ``document`` as ``field.path: message`` lines, most relevant first."""
    errors = sorted(validator.iter_errors(document), key=_document_order)
    best = jsonschema.exceptions.best_match(errors)
    ordered = [best, *(e for e in errors if e is not best)] if best is not None else []
    return [describe(error) for error in ordered]


def describe(error: ValidationError) -> str:
    """One error as ``field.path: message``; unknown fields are named with the allowed ones."""
    where = format_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = error.schema.get("properties", {})
        unknown = sorted(str(key) for key in error.instance if key not in allowed)
        where = format_path([*error.absolute_path, *unknown[:1]])
        more = f" (and {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
        return f"{where}: unknown field{more}; allowed: {', '.join(sorted(allowed))}"
    return f"{where}: {error.message}"


def _document_order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(part) for part in error.absolute_path)
