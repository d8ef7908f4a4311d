"""The performance plan: which load profiles the report runs, how often, and how long.

A plan is a YAML file (``scenarios/perf/quick.yaml``, ``scenarios/perf/full.yaml``)::

    version: 1
    name: quick
    slo_p99_ms: 25            # the p99 objective: the knee is where p99 crosses it
    availability_min: 0.999   # a sweep step below this availability is past the knee too
    sweep:                    # latency and throughput at each offered rate
      settle_s: 1             # seconds at the start of each step left out of that step
      profile: {kind: step, warmup_s: 2, repetitions: 2, stages: [...]}
    ramp:  {profile: {kind: ramp, ...}}
    spike: {window_s: 2, profile: {kind: spike, ...}}
    soak:  {sample_s: 5, window_s: 10, profile: {kind: soak, ...}}
    mesh:  {pods: 1, profile: {kind: constant, ...}}   # pods: a number, or "all"
    engine_benchmark: {cpu_rates_rps: [200], cpu_seconds: 4, fidelity_rate_rps: 100, ...}

Every section is optional. ``profile`` is a load profile exactly as in
``scenarios/profiles/`` (checked by :mod:`tfsverify.load.schema`); its ``repetitions``
says how many times the part runs and ``warmup_s`` is excluded from every measurement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tfsverify.errors import BadInput
from tfsverify.load import Profile, profile_from_dict
from tfsverify.validation import format_path

PLAN_VERSION = 1
RUN_OVERHEAD_S = 1.5  # channel set-up, drain and bookkeeping per load run (measured here)

_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
_PROFILE = {"type": "object"}  # checked by the load profile schema afterwards


def _section(**extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["profile"],
        "properties": {"profile": _PROFILE, **extra},
    }


PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "name", "slo_p99_ms"],
    "properties": {
        "version": {"const": PLAN_VERSION},
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        "description": {"type": "string"},
        "slo_p99_ms": _POSITIVE,
        "availability_min": {"type": "number", "minimum": 0, "maximum": 1},
        "sweep": _section(settle_s={"type": "number", "minimum": 0}),
        "ramp": _section(window_s=_POSITIVE),
        "spike": _section(window_s=_POSITIVE),
        "soak": _section(sample_s=_POSITIVE, window_s=_POSITIVE),
        "mesh": _section(
            pods={"oneOf": [{"type": "integer", "minimum": 1}, {"const": "all"}]}
        ),
        "engine_benchmark": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cpu_rates_rps": {"type": "array", "items": _POSITIVE, "maxItems": 4},
                "cpu_seconds": _POSITIVE,
                "per_user_rps": _POSITIVE,
                "fidelity_rate_rps": _POSITIVE,
                "fidelity_seconds": _POSITIVE,
                "stall_every_s": _POSITIVE,
                "stall_s": _POSITIVE,
                "rate_check_rps": {"type": ["number", "null"], "exclusiveMinimum": 0},
                "rate_check_seconds": _POSITIVE,
            },
        },
    },
}
_KINDS = {
    "sweep": ("step",),
    "ramp": ("ramp",),
    "spike": ("spike",),
    "soak": ("soak", "constant"),
    "mesh": ("constant",),
}
_VALIDATOR = jsonschema.Draft202012Validator(PLAN_SCHEMA)


@dataclass(frozen=True)
class Part:
    """One measured part of a plan: a load profile and the part's own settings."""

    profile: Profile
    settle_s: float = 1.0  # sweep: seconds at the start of each step left out of it
    window_s: float = 2.0  # ramp/spike: rolling window; soak: bucket for the drift
    sample_s: float = 5.0  # soak: how often memory is sampled
    pods: int | None = 1  # mesh: pods measured (None: all)

    @property
    def repetitions(self) -> int:
        return self.profile.repetitions

    def run_s(self) -> float:
        """Planned seconds of one repetition, warm-up and overhead included."""
        return self.profile.warmup_s + self.profile.duration_s + RUN_OVERHEAD_S


@dataclass(frozen=True)
class EngineBenchmarkPlan:
    """Settings of the load-engine benchmark (``benchmarks/load_engine.py``)."""

    cpu_rates_rps: tuple[float, ...] = (400.0, 800.0)
    cpu_seconds: float = 15.0
    per_user_rps: float = 20.0
    fidelity_rate_rps: float = 100.0
    fidelity_seconds: float = 30.0
    stall_every_s: float = 10.0
    stall_s: float = 1.0
    rate_check_rps: float | None = 500.0
    rate_check_seconds: float = 10.0

    def estimate_s(self) -> float:
        """Rough seconds: each client process costs about 3 s to start besides its run."""
        short_s = max(2.0, self.cpu_seconds / 4)  # the run whose CPU is subtracted
        cpu = sum(2 * (self.cpu_seconds + 3) + 2 * (short_s + 3) for _ in self.cpu_rates_rps)
        fidelity = 2 * (self.fidelity_seconds + 4)
        rate = self.rate_check_seconds + 4 if self.rate_check_rps else 0.0
        return cpu + fidelity + rate


@dataclass(frozen=True)
class Plan:
    """A validated plan. Build it with :func:`load_plan` or :func:`plan_from_dict`."""

    name: str
    slo_p99_ms: float
    availability_min: float = 0.999
    description: str = ""
    sweep: Part | None = None
    ramp: Part | None = None
    spike: Part | None = None
    soak: Part | None = None
    mesh: Part | None = None
    engine_benchmark: EngineBenchmarkPlan | None = None
    source: str | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What the results document records about the plan."""
        parts = {
            name: {
                "profile": part.profile.to_dict(),
                "settle_s": part.settle_s,
                "window_s": part.window_s,
                "sample_s": part.sample_s,
                "pods": part.pods,
            }
            for name, part in self.parts().items()
        }
        bench = self.engine_benchmark
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "sha256": self.sha256,
            "slo_p99_ms": self.slo_p99_ms,
            "availability_min": self.availability_min,
            "parts": parts,
            "engine_benchmark": bench.__dict__ if bench else None,
        }

    def parts(self) -> dict[str, Part]:
        """The load parts that are in the plan, in the order they run."""
        named = {"sweep": self.sweep, "ramp": self.ramp, "spike": self.spike,
                 "soak": self.soak, "mesh": self.mesh}
        return {name: part for name, part in named.items() if part is not None}


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file; any problem is one :class:`BadInput` line naming it."""
    path = Path(path)
    text = read_text(path, "plan")
    document = parse_yaml(path, text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return plan_from_dict(document, source=str(path), sha256=digest)


def plan_from_dict(document: Any, source: str = "plan", sha256: str | None = None) -> Plan:
    """Check a parsed plan document and build the :class:`Plan`."""
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(map(str, e.path)))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        assert best is not None
        raise BadInput(f"{source}: {format_path(best.absolute_path)}: {best.message}")
    doc: Mapping[str, Any] = document
    parts: dict[str, Part] = {}
    for name, kinds in _KINDS.items():
        section = doc.get(name)
        if section is None:
            continue
        where = f"{source}: {name}.profile"
        profile = profile_from_dict(section["profile"], name=name, source=where)
        if profile.kind not in kinds:
            raise BadInput(f"{where}: kind {profile.kind!r} cannot be used here; "
                           f"expected {' or '.join(kinds)}")
        if profile.workers != 1:
            raise BadInput(f"{where}: workers must be 1 (CPU per request is measured in-process)")
        pods = section.get("pods", 1)
        parts[name] = Part(
            profile=profile,
            settle_s=float(section.get("settle_s", 1.0)),
            window_s=float(section.get("window_s", 2.0)),
            sample_s=float(section.get("sample_s", 5.0)),
            pods=None if pods == "all" else int(pods),
        )
    _check_settle(parts.get("sweep"), source)
    bench = doc.get("engine_benchmark")
    return Plan(
        name=doc["name"],
        description=doc.get("description", ""),
        slo_p99_ms=float(doc["slo_p99_ms"]),
        availability_min=float(doc.get("availability_min", 0.999)),
        engine_benchmark=_bench(bench) if bench is not None else None,
        source=source,
        sha256=sha256,
        **parts,
    )


def _check_settle(sweep: Part | None, source: str) -> None:
    if sweep is None:
        return
    for number, stage in enumerate(sweep.profile.stages):
        if stage.duration_s <= sweep.settle_s:
            raise BadInput(f"{source}: sweep.profile.stages[{number}]: duration_s "
                           f"{stage.duration_s:g} leaves nothing after settle_s {sweep.settle_s:g}")


def _bench(doc: Mapping[str, Any]) -> EngineBenchmarkPlan:
    values = dict(doc)
    if "cpu_rates_rps" in values:
        values["cpu_rates_rps"] = tuple(float(v) for v in values["cpu_rates_rps"])
    return EngineBenchmarkPlan(**values)


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInput(f"{path}: no such {what} file") from exc
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from exc


def parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "bad syntax"
        raise BadInput(f"{path}: not valid YAML{where}: {problem}") from exc
