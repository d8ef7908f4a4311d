"""Rendering of a run's results document (``summary.json``) into its report files.

Pure: it reads the document and writes files, nothing else (no network, no processes, no
Kubernetes). The public API:

* :func:`write_reports` writes ``summary.json``, ``report.html``, ``report.md``,
  ``junit.xml`` and ``series-<experiment>.parquet`` (``.csv`` without pyarrow);
* :func:`render_again` renders the HTML, Markdown and JUnit files again from an existing
  run folder (``tfsverify report RUN_DIR``);
* :func:`load_document` reads and checks a ``summary.json``; :func:`check_document` checks
  a document in memory. Both raise :class:`tfsverify.errors.BadInput`.
"""

from tfsverify.report.document import SCHEMA_VERSION, check_document, load_document
from tfsverify.report.html import render_html
from tfsverify.report.junit import render_junit
from tfsverify.report.markdown import render_markdown
from tfsverify.report.writer import render_again, write_reports

__all__ = [
    "SCHEMA_VERSION",
    "check_document",
    "load_document",
    "render_again",
    "render_html",
    "render_junit",
    "render_markdown",
    "write_reports",
]
