"""The experiment catalogue: finding, reading and checking experiment files before a run.

Everything is checked before anything runs, so a malformed experiment, SLO set or load
profile stops the run with one line (BadInput, exit 2) and the target is never touched:
JSON/YAML syntax, the Chaos Toolkit's own validation (``ensure_experiment_is_valid``), the
tfsverify control and its arguments, the SLO set and the profile it names, and the rollback
strategy (``runtime.rollbacks.strategy`` must be ``always``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tfsverify import slo
from tfsverify.chaos.control import CHECKOUT, ControlArguments, build_profile, parse_arguments
from tfsverify.errors import BadInput

CONTROL_MODULE = "tfsverify.chaos.control"
ORDER = ("pod-kill", "sidecar-failure", "node-drain", "grpc-fault", "mtls-enforcement",
         "model-rollout", "gpu-node-drain")


@dataclass(frozen=True)
class Entry:
    """One experiment ready to run."""

    path: Path
    name: str
    experiment: dict[str, Any]
    arguments: ControlArguments


def default_files() -> list[Path]:
    """``experiments/*.json`` (of the current directory, else of the checkout), catalogue
    order first."""
    folder = Path("experiments")
    if not folder.is_dir():
        folder = CHECKOUT / "experiments"
    files = sorted(folder.glob("*.json"))
    rank = {name: number for number, name in enumerate(ORDER)}
    return sorted(files, key=lambda p: (rank.get(p.stem, len(ORDER)), p.stem))


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        document = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} "
                       f"column {exc.colno}") from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict):
        raise BadInput(f"{path}: an experiment is a JSON object")
    return document


def _control_arguments(path: Path, experiment: dict[str, Any],
                       profile: Path | None) -> dict[str, Any]:
    for control in experiment.get("controls") or []:
        provider = control.get("provider") if isinstance(control, dict) else None
        if isinstance(provider, dict) and provider.get("module") == CONTROL_MODULE:
            arguments = provider.setdefault("arguments", {})
            if profile is not None:
                arguments["profile"] = str(profile)
            arguments.setdefault("name", path.stem)
            return dict(arguments)
    raise BadInput(f"{path}: no {CONTROL_MODULE} control: the experiment would run without "
                   "load and without SLO verdicts")


def load_entry(path: Path, profile: Path | None = None) -> Entry:
    """Read and check one experiment file (BadInput with one line naming the problem)."""
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    experiment = _read(path)
    try:
        ensure_experiment_is_valid(experiment)
    except ChaosException as exc:
        raise BadInput(f"{path}: {str(exc).splitlines()[0]}") from exc
    strategy = (experiment.get("runtime") or {}).get("rollbacks", {}).get("strategy")
    if strategy != "always":
        raise BadInput(f"{path}: runtime.rollbacks.strategy must be \"always\" (rollbacks "
                       f"must run also when the method fails), got {strategy!r}")
    raw = _control_arguments(path, experiment, profile)
    try:
        arguments = parse_arguments(str(experiment.get("title", path.stem)), raw)
        slo.load_slo_set(arguments.slo)
        build_profile(arguments)
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from exc
    return Entry(path, arguments.name, experiment, arguments)


def load_catalogue(files: list[Path], profile: Path | None = None) -> list[Entry]:
    """Every experiment checked, in the order given; the Chaos Toolkit's log kept quiet."""
    if not files:
        raise BadInput("no experiment to run (experiments/*.json is empty)")
    quiet = logging.getLogger("chaostoolkit")
    previous = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return [load_entry(path, profile) for path in files]
    finally:
        quiet.setLevel(previous)
