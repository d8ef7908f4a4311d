"""Writing a performance run's report folder: ``perf.json``, ``report.html``, ``report.md``,
``junit.xml``. Pure rendering plus file writes; nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput
from tfsverify.perf.document import finite, write_document
from tfsverify.perf.report_html import render_html
from tfsverify.perf.report_junit import render_junit
from tfsverify.perf.report_markdown import render_markdown

FILES = ("perf.json", "report.html", "report.md", "junit.xml")


def write_report(document: Mapping[str, Any], directory: str | Path,
                 baseline: Mapping[str, Any] | None = None) -> list[Path]:
    """Write the four files into ``directory`` (created); returns their paths."""
    directory = Path(directory)
    clean = finite(document)
    paths = [write_document(clean, directory / "perf.json")]
    for name, text in (("report.html", render_html(clean, baseline)),
                       ("report.md", render_markdown(clean)),
                       ("junit.xml", render_junit(clean))):
        path = directory / name
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot write {path}: {exc.strerror}") from exc
        paths.append(path)
    return paths
