"""The JSON Schema of a load profile (``scenarios/profiles/*.yaml``).

A profile file is a mapping with a ``kind`` and the fields that kind takes; every other
field is refused (``additionalProperties: false``), so a typo never passes silently.

Kinds and their own fields:

============  ================================================================
``constant``  ``rate_rps``, ``duration_s``: one fixed arrival rate
``soak``      ``rate_rps``, ``duration_s``: the same, held for a long time
``ramp``      ``from_rps``, ``to_rps``, ``duration_s``, optional ``hold_s`` at ``to_rps``
``step``      ``stages``: a list of ``{rate_rps, duration_s}`` (a rate sweep)
``spike``     ``base_rps``, ``spike_rps``, ``before_s``, ``spike_s``, ``after_s``
============  ================================================================

Fields every kind takes (all optional): ``description``, ``warmup_s`` (seconds at the first
rate before measuring, default 0), ``batch_size`` (rows per Predict request, default 1),
``deadline_ms`` (per call, default 1000), ``max_in_flight`` (bound on outstanding requests,
default 1000), ``balancing`` (``round_robin`` or ``least_request``), ``workers`` (client
processes, default 1), ``repetitions`` (default 1, used by the performance report) and
``model_version`` (pin requests to a model version; default: the server's latest).

``python -m tfsverify.load.schema`` prints the schema, for editors that validate YAML.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from tfsverify.validation import schema_errors

KINDS = ("constant", "soak", "ramp", "step", "spike")

_RATE = {"type": "number", "minimum": 0, "maximum": 1_000_000}
_SECONDS = {"type": "number", "exclusiveMinimum": 0, "maximum": 7 * 24 * 3600}
_SECONDS_OR_ZERO = {"type": "number", "minimum": 0, "maximum": 7 * 24 * 3600}

COMMON_FIELDS: dict[str, Any] = {
    "kind": {"enum": list(KINDS)},
    "description": {"type": "string"},
    "warmup_s": _SECONDS_OR_ZERO,
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 4096},
    "deadline_ms": {"type": "number", "exclusiveMinimum": 0, "maximum": 600_000},
    "max_in_flight": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    "balancing": {"enum": ["round_robin", "least_request"]},
    "workers": {"type": "integer", "minimum": 1, "maximum": 64},
    "repetitions": {"type": "integer", "minimum": 1, "maximum": 100},
    "model_version": {"type": "integer", "minimum": 1},
}

KIND_FIELDS: dict[str, dict[str, Any]] = {
    "constant": {"rate_rps": {**_RATE, "exclusiveMinimum": 0}, "duration_s": _SECONDS},
    "soak": {"rate_rps": {**_RATE, "exclusiveMinimum": 0}, "duration_s": _SECONDS},
    "ramp": {
        "from_rps": _RATE,
        "to_rps": _RATE,
        "duration_s": _SECONDS,
        "hold_s": _SECONDS_OR_ZERO,
    },
    "step": {
        "stages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rate_rps", "duration_s"],
                "properties": {"rate_rps": _RATE, "duration_s": _SECONDS},
            },
        }
    },
    "spike": {
        "base_rps": _RATE,
        "spike_rps": _RATE,
        "before_s": _SECONDS_OR_ZERO,
        "spike_s": _SECONDS,
        "after_s": _SECONDS_OR_ZERO,
    },
}

REQUIRED: dict[str, list[str]] = {
    "constant": ["rate_rps", "duration_s"],
    "soak": ["rate_rps", "duration_s"],
    "ramp": ["from_rps", "to_rps", "duration_s"],
    "step": ["stages"],
    "spike": ["base_rps", "spike_rps", "spike_s"],
}


def profile_schema() -> dict[str, Any]:
    """The whole schema (draft 2020-12): ``kind`` selects the fields allowed beside it."""
    defs = {
        kind: {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", *REQUIRED[kind]],
            "properties": {**COMMON_FIELDS, **KIND_FIELDS[kind]},
        }
        for kind in KINDS
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tfsverify.invalid/schemas/load-profile.json",
        "title": "tfsverify load profile",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": COMMON_FIELDS["kind"]},
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": f"#/$defs/{kind}"},
            }
            for kind in KINDS
        ],
        "$defs": defs,
    }


_VALIDATOR = jsonschema.Draft202012Validator(profile_schema())


def profile_errors(document: Any) -> list[str]:
    """Every problem with ``document`` as ``field.path: message`` lines, most relevant first."""
    return schema_errors(_VALIDATOR, document)


if __name__ == "__main__":  # pragma: no cover - a convenience for editors
    print(json.dumps(profile_schema(), indent=2))
