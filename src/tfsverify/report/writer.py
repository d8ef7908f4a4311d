"""Write a run's report folder: ``summary.json``, ``report.html``, ``report.md``,
``junit.xml`` and one series table per experiment.

The document is checked first, so a malformed document fails before anything is written;
``summary.json`` is written before the renderings, so the results survive a rendering
failure and :func:`render_again` can retry. Each file is written to a temporary name and
then renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput
from tfsverify.report.document import SUMMARY_NAME, check_document, dumps_document, load_document
from tfsverify.report.html import render_html
from tfsverify.report.junit import render_junit
from tfsverify.report.markdown import render_markdown
from tfsverify.report.series import parquet_available, series_file_names, write_series

RENDERINGS: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("report.html", render_html),
    ("report.md", render_markdown),
    ("junit.xml", render_junit),
)


def write_reports(document: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write every report file of ``document`` into ``out_dir`` (created if missing).

    Returns the paths written: summary.json, report.html, report.md, junit.xml, then the
    series files (``series-<experiment>.parquet``, or ``.csv`` without pandas/pyarrow).
    Raises :class:`~tfsverify.errors.BadInput` when the document is malformed or the folder
    cannot be written.
    """
    check_document(document)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [_write_text(out_dir / SUMMARY_NAME, dumps_document(document))]
        paths += _render(document, out_dir)
        suffix = ".parquet" if parquet_available() else ".csv"
        experiments = document["experiments"]
        names = series_file_names([str(exp["name"]) for exp in experiments], suffix)
        for experiment, name in zip(experiments, names, strict=True):
            write_series(experiment, out_dir / name)
            paths.append(out_dir / name)
    except OSError as exc:
        raise BadInput(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from exc
    return paths


def render_again(run_dir: Path) -> list[Path]:
    """Render report.html, report.md and junit.xml again from ``run_dir/summary.json``.

    What ``tfsverify report RUN_DIR`` does. Returns the paths written; raises
    :class:`~tfsverify.errors.BadInput` when the summary is missing, malformed or of a
    newer schema version.
    """
    run_dir = Path(run_dir)
    document = load_document(run_dir / SUMMARY_NAME)
    try:
        return _render(document, run_dir)
    except OSError as exc:
        raise BadInput(f"cannot write the report to {run_dir}: {exc.strerror or exc}") from exc


def _render(document: Mapping[str, Any], out_dir: Path) -> list[Path]:
    return [_write_text(out_dir / name, render(document)) for name, render in RENDERINGS]


def _write_text(path: Path, text: str) -> Path:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
