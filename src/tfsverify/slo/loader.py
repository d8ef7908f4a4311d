"""Reading SLO set files: the only module of :mod:`tfsverify.slo` that touches the disk.

The SLO sets shipped with tfsverify live in ``scenarios/slo/`` (one YAML file per set); the
name of a set is its ``name`` field, which by convention equals the file's stem.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tfsverify.errors import BadInput
from tfsverify.slo.sets import SloSet, slo_set_from_dict


def load_slo_set(path: str | Path) -> SloSet:
    """Read, validate and build the SLO set in the YAML file ``path``.

    Raises :class:`~tfsverify.errors.BadInput` with one line naming the file and the field,
    e.g. ``scenarios/slo/x.yaml: assertions[2].limit: 'abc' is not of type 'number'``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the SLO set: {exc.strerror}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise BadInput(f"{path}: not valid YAML{at}: {problem}") from exc
    return slo_set_from_dict(document, source=str(path))


def load_slo_sets(directory: str | Path) -> dict[str, SloSet]:
    """Every ``*.yaml`` set in ``directory``, by set name (sorted by file name)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BadInput(f"{directory}: no such directory of SLO sets")
    sets: dict[str, SloSet] = {}
    for path in sorted(directory.glob("*.yaml")):
        slo_set = load_slo_set(path)
        if slo_set.name in sets:
            raise BadInput(f"{path}: name: '{slo_set.name}' is also {sets[slo_set.name].source}")
        sets[slo_set.name] = slo_set
    return sets
