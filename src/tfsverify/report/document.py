"""The run results document (``summary.json``): read it, check it, write it.

A chaos run writes one document per run (``reports/<run-id>/summary.json``); every report
file is rendered from it and from nothing else, so ``tfsverify report RUN_DIR`` can render
them again later. The document is versioned by ``schema_version``; this module reads
versions up to :data:`SCHEMA_VERSION` and refuses newer ones (upgrade tfsverify to read
them). Its shape is checked against ``run.schema.json`` (shipped beside this module), which
lists the fields the renderer reads; other fields are allowed and kept.

Change history of ``schema_version``:

1. first version.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from tfsverify.errors import BadInput

SCHEMA_VERSION = 1
KIND = "tfsverify.run"
SUMMARY_NAME = "summary.json"

__all__ = [
    "KIND",
    "SCHEMA_VERSION",
    "SUMMARY_NAME",
    "check_document",
    "dumps_document",
    "load_document",
]


def load_document(path: str | Path) -> dict[str, Any]:
    """Read and check a ``summary.json`` (or the one inside a run folder).

    Raises :class:`~tfsverify.errors.BadInput` with one line naming the file when it cannot
    be read, is not JSON, has an unknown or newer ``schema_version``, or has the wrong shape.
    """
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path} is not UTF-8 text: {exc.reason}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    check_document(document, source=str(path))
    return document


def check_document(document: Any, source: str = "the results document") -> None:
    """Check the version and the shape of a results document; :class:`BadInput` if wrong."""
    if not isinstance(document, dict):
        raise BadInput(f"{source} is not a tfsverify run document (not a JSON object)")
    if document.get("kind") != KIND:
        raise BadInput(
            f"{source} is not a tfsverify run document (kind is {document.get('kind')!r}, "
            f"expected {KIND!r})"
        )
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadInput(f"{source} has an unknown schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise BadInput(
            f"{source} has schema_version {version}, newer than this tfsverify reads "
            f"({SCHEMA_VERSION}): upgrade tfsverify to render it"
        )
    error = best_match(_validator().iter_errors(document))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise BadInput(f"{source}: {where}: {_short(error.message)}")


def dumps_document(document: dict[str, Any]) -> str:
    """The document as pretty JSON with sorted keys (stable diffs between runs).

    Non-finite numbers (NaN, infinity), which JSON cannot carry, are written as ``null``.
    """
    return json.dumps(_finite(document), indent=2, sort_keys=True, allow_nan=False) + "\n"


# -- internals -------------------------------------------------------------------------


@cache
def _validator() -> jsonschema.protocols.Validator:
    text = resources.files(__package__).joinpath("run.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    return jsonschema.Draft202012Validator(schema)


def _short(message: str, limit: int = 160) -> str:
    line = " ".join(message.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
