"""``perf.json``: the versioned results of a performance run, also what a baseline is.

Top-level keys:

``schema_version``, ``kind``   ``1``, ``"tfsverify.perf"``
``run_id``, ``started_unix``, ``ended_unix``, ``duration_s``, ``tfsverify`` (its version)
``environment``  the fingerprint (:func:`fingerprint`): interpreter, grpc, platform,
                 machine, CPU count, a hash of the host name, the target kind
``target``       what was measured: kind, pods, overlay, model
``plan``         the plan as run (:meth:`tfsverify.perf.plan.Plan.to_dict`)
``parts``        one section per part run: ``sweep`` (steps with totals and percentiles per
                 repetition and pooled, saturation, the knee), ``ramp``, ``spike``,
                 ``soak`` (per-second series, memory samples), ``mesh`` (per pod and
                 repetition, both ways, CPU per request, added latency with its interval)
``engine_benchmark``  the load-engine benchmark's report (``status``: ok/skipped/failed)
``samples``      latency samples by name (:mod:`tfsverify.perf.samples`)
``metrics``      the compared metrics (:mod:`tfsverify.perf.metrics`)
``warnings``     what the reader must know (wrong answers, failed requests, a skipped part)
``comparison``   the baseline comparison (:mod:`tfsverify.perf.compare`), or ``null``

Change history of ``schema_version``:

1. first version.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tfsverify
from tfsverify.errors import BadInput

SCHEMA_VERSION = 1
KIND = "tfsverify.perf"
REQUIRED = ("schema_version", "kind", "run_id", "environment", "plan", "parts", "samples",
            "metrics")


def fingerprint(target_kind: str) -> dict[str, Any]:
    """What the numbers depend on besides the build under test."""
    from tfsverify.load.result import environment  # grpc's version: imported only here

    return {**environment(), "target": target_kind, "tfsverify": tfsverify.__version__}


def build_document(
    *,
    run_id: str,
    started_unix: float,
    ended_unix: float,
    environment: Mapping[str, Any],
    target: Mapping[str, Any],
    plan: Mapping[str, Any],
    parts: Mapping[str, Any],
    samples: Mapping[str, Any],
    metrics: list[dict[str, Any]],
    engine_benchmark: Mapping[str, Any] | None,
    warnings: list[str],
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "run_id": run_id,
        "tfsverify": tfsverify.__version__,
        "started_unix": started_unix,
        "ended_unix": ended_unix,
        "duration_s": ended_unix - started_unix,
        "environment": dict(environment),
        "target": dict(target),
        "plan": dict(plan),
        "parts": dict(parts),
        "engine_benchmark": dict(engine_benchmark) if engine_benchmark is not None else None,
        "samples": dict(samples),
        "metrics": metrics,
        "warnings": warnings,
        "comparison": None,
    }


def check_document(document: Any, source: str) -> dict[str, Any]:
    """``document`` if it is a perf results document this version reads, else BadInput."""
    if not isinstance(document, dict):
        raise BadInput(f"{source}: not a tfsverify perf results document (not a JSON object)")
    if document.get("kind") != KIND:
        raise BadInput(f"{source}: not a tfsverify perf results document "
                       f"(kind {document.get('kind')!r}, expected {KIND!r})")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BadInput(f"{source}: schema_version {version!r} is not supported "
                       f"(this tfsverify reads {SCHEMA_VERSION})")
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        raise BadInput(f"{source}: missing {', '.join(missing)}")
    if not isinstance(document["metrics"], list) or not isinstance(document["samples"], dict):
        raise BadInput(f"{source}: metrics must be a list and samples an object")
    for number, metric in enumerate(document["metrics"]):
        if not isinstance(metric, dict) or not {"id", "kind", "better"} <= metric.keys():
            raise BadInput(f"{source}: metrics[{number}] needs id, kind and better")
        keys = {"latency": ("samples",), "latency_delta": ("samples", "minus_samples")}
        for key in keys.get(metric["kind"], ()):
            if metric.get(key) not in document["samples"]:
                raise BadInput(f"{source}: metrics[{number}] ({metric['id']}): "
                               f"no sample {metric.get(key)!r}")
    return document


def load_document(path: str | Path) -> dict[str, Any]:
    """Read and check a ``perf.json`` (a run or a stored baseline)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInput(f"{path}: no such results file") from exc
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"{path}: not valid JSON: {exc}") from exc
    return check_document(document, str(path))


def write_document(document: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(finite(document), indent=1, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror}") from exc
    return path


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None`` (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def as_baseline(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document to store as a baseline: the run itself, without its own comparison."""
    return {**document, "comparison": None}
