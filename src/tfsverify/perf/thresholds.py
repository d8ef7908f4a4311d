"""Regression thresholds: when a change is a regression (``scenarios/perf/thresholds.yaml``).

::

    version: 1
    alpha: 0.05                 # significance level of the permutation test
    confidence: 0.95            # of the bootstrap confidence interval
    resamples: 2000             # bootstrap resamples per side
    permutations: 2000          # random splits when there are too many to enumerate
    seed: 0                     # the statistics are reproducible
    environment:
      must_match: [python, grpc, machine, cpu_count, hostname_sha256, target]
    rules:                      # first match (shell-style pattern on the metric id) wins
      - {match: "sweep.*.p99_ms", regression_pct: 20, improvement_pct: 20}
      - {match: "spike.recovery_s", regression_abs: 2}
      - {match: "mesh.*cpu_us_per_request", regression_pct: 25, gate: false}
      - {match: "*", regression_pct: 10}
    plans:                      # rules tried first for runs of the named plan
      quick:
        rules:
          - {match: "*_ms", regression_pct: 75}

A change is a regression ("slower") only when it is significant (p-value below ``alpha``
and the confidence interval excludes no change) **and** the estimated change is at least
the threshold in the worse direction: ``regression_pct`` of the baseline for metrics
compared as ratios, ``regression_abs`` (in the metric's unit) for metrics compared as
differences. "faster" is the same in the better direction with ``improvement_pct`` /
``improvement_abs`` (default: the regression threshold). ``gate: false`` reports the
verdict without failing the run.

A stored baseline was measured at another time: whatever else the machine was doing then
shows up as a change. Thresholds must exceed the machine's run-to-run noise; measure it by
comparing two runs of the same build (``tfsverify perf --candidate B --baseline A``).
Short plans (few, short repetitions) get their own, wider rules under ``plans``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from tfsverify.errors import BadInput
from tfsverify.perf.plan import parse_yaml, read_text
from tfsverify.validation import format_path

THRESHOLDS_VERSION = 1
DEFAULT_MUST_MATCH = ("python", "implementation", "grpc", "machine", "cpu_count",
                      "hostname_sha256", "target")

_PCT = {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000}
_ABS = {"type": "number", "exclusiveMinimum": 0}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "rules"],
    "properties": {
        "version": {"const": THRESHOLDS_VERSION},
        "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "resamples": {"type": "integer", "minimum": 100, "maximum": 100_000},
        "permutations": {"type": "integer", "minimum": 100, "maximum": 100_000},
        "seed": {"type": "integer", "minimum": 0},
        "environment": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"must_match": {"type": "array", "items": {"type": "string"}}},
        },
        "rules": {"$ref": "#/$defs/rules"},
        "plans": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rules"],
                "properties": {"rules": {"$ref": "#/$defs/rules"}},
            },
        },
    },
    "$defs": {
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["match"],
                "anyOf": [{"required": ["regression_pct"]}, {"required": ["regression_abs"]}],
                "properties": {
                    "match": {"type": "string", "minLength": 1},
                    "regression_pct": _PCT,
                    "improvement_pct": _PCT,
                    "regression_abs": _ABS,
                    "improvement_abs": _ABS,
                    "gate": {"type": "boolean"},
                },
            },
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class Rule:
    """The thresholds of the metrics whose id matches ``match``."""

    match: str
    regression_pct: float | None = None
    improvement_pct: float | None = None
    regression_abs: float | None = None
    improvement_abs: float | None = None
    gate: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass(frozen=True)
class Thresholds:
    """Parsed ``thresholds.yaml``. Build it with :func:`load_thresholds`."""

    rules: tuple[Rule, ...]
    plan_rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    alpha: float = 0.05
    confidence: float = 0.95
    resamples: int = 2000
    permutations: int = 2000
    seed: int = 0
    must_match: tuple[str, ...] = DEFAULT_MUST_MATCH
    source: str | None = None

    def rule_for(self, metric_id: str, plan: str | None = None) -> Rule | None:
        """The first rule matching ``metric_id``: the plan's own, then the general ones
        (``None``: not compared)."""
        rules = (*self.plan_rules.get(plan or "", ()), *self.rules)
        return next((r for r in rules if fnmatch.fnmatchcase(metric_id, r.match)), None)


def load_thresholds(path: str | Path) -> Thresholds:
    """Read and check a thresholds file; any problem is one :class:`BadInput` line."""
    path = Path(path)
    return thresholds_from_dict(parse_yaml(path, read_text(path, "thresholds")), str(path))


def thresholds_from_dict(document: Any, source: str = "thresholds") -> Thresholds:
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(map(str, e.path)))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        assert best is not None
        raise BadInput(f"{source}: {format_path(best.absolute_path)}: {_message(best)}")
    doc: Mapping[str, Any] = document
    rules = tuple(Rule(**rule) for rule in doc["rules"])
    plan_rules = {name: tuple(Rule(**rule) for rule in plan["rules"])
                  for name, plan in doc.get("plans", {}).items()}
    environment = doc.get("environment", {})
    return Thresholds(
        rules=rules,
        plan_rules=plan_rules,
        alpha=float(doc.get("alpha", 0.05)),
        confidence=float(doc.get("confidence", 0.95)),
        resamples=int(doc.get("resamples", 2000)),
        permutations=int(doc.get("permutations", 2000)),
        seed=int(doc.get("seed", 0)),
        must_match=tuple(environment.get("must_match", DEFAULT_MUST_MATCH)),
        source=source,
    )


def _message(error: jsonschema.exceptions.ValidationError) -> str:
    if error.validator == "anyOf" and "match" in getattr(error, "instance", {}):
        return "a rule needs regression_pct or regression_abs"
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(str(k) for k in error.instance if k not in allowed)
        return f"unknown field {', '.join(unknown)}; allowed: {', '.join(allowed)}"
    return error.message
