"""Load profiles: how many Predict requests to send, when, and with which client settings.

A profile is a YAML file (``scenarios/profiles/*.yaml``) checked against
:mod:`tfsverify.load.schema`, then turned into a :class:`Profile`: a list of
:class:`Stage` (a duration with a rate that may change linearly from ``rate_rps`` to
``to_rps``) plus the client settings. Every kind (constant, soak, ramp, step, spike) is
just a particular list of stages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tfsverify.errors import BadInput
from tfsverify.load.schema import profile_errors


@dataclass(frozen=True)
class Stage:
    """``duration_s`` seconds in which the rate goes linearly from ``rate_rps`` to ``to_rps``."""

    duration_s: float
    rate_rps: float
    to_rps: float

    @property
    def requests(self) -> float:
        """How many requests the stage sends (the area under its rate)."""
        return (self.rate_rps + self.to_rps) / 2 * self.duration_s


@dataclass(frozen=True)
class Profile:
    """A validated load profile. Build it with :func:`load_profile` or :func:`profile_from_dict`."""

    name: str
    kind: str
    stages: tuple[Stage, ...]
    warmup_s: float = 0.0
    batch_size: int = 1
    deadline_ms: float = 1000.0
    max_in_flight: int = 1000
    balancing: str = "round_robin"
    workers: int = 1
    repetitions: int = 1
    model_version: int | None = None
    description: str = ""
    source: str | None = None
    sha256: str | None = None
    document: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def duration_s(self) -> float:
        """Measured seconds (warm-up excluded)."""
        return sum(stage.duration_s for stage in self.stages)

    @property
    def peak_rps(self) -> float:
        return max(max(stage.rate_rps, stage.to_rps) for stage in self.stages)

    def with_overrides(
        self,
        *,
        rate_rps: float | None = None,
        duration_s: float | None = None,
        workers: int | None = None,
    ) -> Profile:
        """A copy with the peak rate and/or the measured duration changed.

        Every rate is scaled by ``rate_rps / peak``, every stage duration by
        ``duration_s / duration``, so the shape of a ramp, sweep or spike is kept.
        """
        stages = self.stages
        if rate_rps is not None:
            if rate_rps <= 0:
                raise BadInput(f"--rate must be more than 0, got {rate_rps}")
            if self.peak_rps:
                factor = rate_rps / self.peak_rps
                stages = tuple(
                    Stage(s.duration_s, s.rate_rps * factor, s.to_rps * factor) for s in stages
                )
            else:  # an all-zero profile: make it flat at the given rate
                stages = tuple(Stage(s.duration_s, rate_rps, rate_rps) for s in stages)
        if duration_s is not None:
            if duration_s <= 0:
                raise BadInput(f"--duration must be more than 0 s, got {duration_s}")
            factor = duration_s / self.duration_s
            stages = tuple(Stage(s.duration_s * factor, s.rate_rps, s.to_rps) for s in stages)
        if workers is not None and workers < 1:
            raise BadInput(f"--workers must be at least 1, got {workers}")
        return replace(self, stages=stages, workers=workers or self.workers)

    def to_dict(self) -> dict[str, Any]:
        """The profile as the results JSON records it (stages after any override)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "source": self.source,
            "sha256": self.sha256,
            "stages": [
                {"duration_s": s.duration_s, "rate_rps": s.rate_rps, "to_rps": s.to_rps}
                for s in self.stages
            ],
            "warmup_s": self.warmup_s,
            "batch_size": self.batch_size,
            "deadline_ms": self.deadline_ms,
            "max_in_flight": self.max_in_flight,
            "balancing": self.balancing,
            "workers": self.workers,
            "repetitions": self.repetitions,
            "model_version": self.model_version,
        }


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file; any problem is one :class:`BadInput` line naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInput(f"{path}: no such profile file") from exc
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "bad syntax"
        raise BadInput(f"{path}: not valid YAML{where}: {problem}") from exc
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return profile_from_dict(document, name=path.stem, source=str(path), sha256=digest)


def profile_from_dict(
    document: Any, *, name: str = "profile", source: str | None = None, sha256: str | None = None
) -> Profile:
    """Validate a parsed profile document and build the :class:`Profile`."""
    problems = profile_errors(document)
    if problems:
        raise BadInput(f"{source or name}: {problems[0]}")
    doc: Mapping[str, Any] = document
    return Profile(
        name=name,
        kind=doc["kind"],
        stages=_stages(doc),
        warmup_s=float(doc.get("warmup_s", 0.0)),
        batch_size=int(doc.get("batch_size", 1)),
        deadline_ms=float(doc.get("deadline_ms", 1000.0)),
        max_in_flight=int(doc.get("max_in_flight", 1000)),
        balancing=doc.get("balancing", "round_robin"),
        workers=int(doc.get("workers", 1)),
        repetitions=int(doc.get("repetitions", 1)),
        model_version=doc.get("model_version"),
        description=doc.get("description", ""),
        source=source,
        sha256=sha256,
        document=dict(doc),
    )


def _stages(doc: Mapping[str, Any]) -> tuple[Stage, ...]:
    kind = doc["kind"]
    if kind in ("constant", "soak"):
        rate = float(doc["rate_rps"])
        return (Stage(float(doc["duration_s"]), rate, rate),)
    if kind == "ramp":
        start, end = float(doc["from_rps"]), float(doc["to_rps"])
        stages = [Stage(float(doc["duration_s"]), start, end)]
        if doc.get("hold_s"):
            stages.append(Stage(float(doc["hold_s"]), end, end))
        return tuple(stages)
    if kind == "step":
        return tuple(
            Stage(float(s["duration_s"]), float(s["rate_rps"]), float(s["rate_rps"]))
            for s in doc["stages"]
        )
    # spike
    base, peak = float(doc["base_rps"]), float(doc["spike_rps"])
    parts = [
        Stage(float(doc.get("before_s", 0.0)), base, base),
        Stage(float(doc["spike_s"]), peak, peak),
        Stage(float(doc.get("after_s", 0.0)), base, base),
    ]
    return tuple(stage for stage in parts if stage.duration_s > 0)
