"""The JSON Schema of an SLO set (``scenarios/slo/*.yaml``) and its one-line error messages.

An SLO set is a mapping with ``name``, ``description``, ``rolling_window_s`` and a list of
``assertions``. Each assertion has a ``kind``, the ``window`` it judges (``baseline``,
``fault``, ``recovery`` or ``whole``) and a ``limit``; the comparison is implied by the kind.
Every other field is refused (``additionalProperties: false``), so a typo never passes
silently.

=====================================  ========  ============================================
kind                                   compares  limit and own fields
=====================================  ========  ============================================
``availability_min``                   ``>=``    ratio of requests answered correctly
``wrong_answer_rate_max``              ``<=``    ratio of answers that were wrong
``error_rate_max``                     ``<=``    ratio of requests failed; ``status`` narrows
                                                 it to one gRPC status (e.g. UNAVAILABLE)
``p50_ms_max`` ... ``p99_9_ms_max``    ``<=``    latency percentile in ms (p50, p90, p99,
                                                 p99.9) of the answered requests
``time_to_recover_s_max``              ``<=``    seconds from the fault's start until every
                                                 rolling window meets ``availability_min`` /
                                                 ``p99_ms_max`` (own fields, or the set's
                                                 baseline ones); window ``recovery`` only
``time_to_first_correct_answer_s_max`` ``<=``    seconds from a new pod's readiness to its
                                                 first correct answer (data from the caller)
``error_rate_in_band``                 ``in``    ``[min, max]`` ratio of requests that failed
                                                 with ``status`` (an injected fault must show)
``min_requests``                       ``>=``    requests in the window; fewer is a failure
=====================================  ========  ============================================

Optional in every assertion: ``name`` (the verdict's assertion name, default derived from the
kind) and ``description``.

``python -m tfsverify.slo.schema`` prints the schema, for editors that validate YAML.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from tfsverify.validation import schema_errors

WINDOWS = ("baseline", "fault", "recovery", "whole")
PERCENTILE_KINDS = {
    "p50_ms_max": 50.0,
    "p90_ms_max": 90.0,
    "p99_ms_max": 99.0,
    "p99_9_ms_max": 99.9,
}
KINDS = (
    "availability_min",
    "wrong_answer_rate_max",
    "error_rate_max",
    *PERCENTILE_KINDS,
    "time_to_recover_s_max",
    "time_to_first_correct_answer_s_max",
    "error_rate_in_band",
    "min_requests",
)
GRPC_STATUSES = (
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
    "CLIENT_OVERLOAD",  # the load engine's own: a request it could not send in time
)

_RATIO = {"type": "number", "minimum": 0, "maximum": 1}
_MS = {"type": "number", "exclusiveMinimum": 0, "maximum": 600_000}
_SECONDS = {"type": "number", "minimum": 0, "maximum": 7 * 24 * 3600}
_COMMON: dict[str, Any] = {
    "kind": {"enum": list(KINDS)},
    "window": {"enum": list(WINDOWS)},
    "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_]*$", "maxLength": 60},
    "description": {"type": "string"},
}
_STATUS = {"enum": list(GRPC_STATUSES)}

KIND_FIELDS: dict[str, dict[str, Any]] = {
    "availability_min": {"limit": _RATIO},
    "wrong_answer_rate_max": {"limit": _RATIO},
    "error_rate_max": {"limit": _RATIO, "status": _STATUS},
    **{kind: {"limit": _MS} for kind in PERCENTILE_KINDS},
    "time_to_recover_s_max": {
        "limit": _SECONDS,
        "window": {"const": "recovery"},
        "availability_min": _RATIO,
        "p99_ms_max": _MS,
    },
    "time_to_first_correct_answer_s_max": {"limit": _SECONDS},
    "error_rate_in_band": {
        "limit": {"type": "array", "prefixItems": [_RATIO, _RATIO], "minItems": 2, "maxItems": 2},
        "status": _STATUS,
    },
    "min_requests": {"limit": {"type": "integer", "minimum": 1}},
}
REQUIRED: dict[str, list[str]] = {kind: ["limit"] for kind in KINDS}
REQUIRED["error_rate_in_band"] = ["limit", "status"]


def slo_schema() -> dict[str, Any]:
    """The whole schema (draft 2020-12): an assertion's ``kind`` selects its fields."""
    kinds = {
        kind: {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "window", *REQUIRED[kind]],
            "properties": {**_COMMON, **KIND_FIELDS[kind]},
        }
        for kind in KINDS
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tfsverify.invalid/schemas/slo-set.json",
        "title": "tfsverify SLO set",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "assertions"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$", "maxLength": 60},
            "description": {"type": "string"},
            "rolling_window_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
            "assertions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/assertion"}},
        },
        "$defs": {
            "assertion": {
                "type": "object",
                "required": ["kind"],
                "properties": {"kind": _COMMON["kind"]},
                "allOf": [
                    {
                        "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                        "then": {"$ref": f"#/$defs/{kind}"},
                    }
                    for kind in KINDS
                ],
            },
            **kinds,
        },
    }


_VALIDATOR = jsonschema.Draft202012Validator(slo_schema())


def slo_errors(document: Any) -> list[str]:
    """Every problem with ``document`` as ``field.path: message`` lines, most relevant first."""
    return schema_errors(_VALIDATOR, document)


if __name__ == "__main__":  # pragma: no cover - a convenience for editors
    print(json.dumps(slo_schema(), indent=2))
