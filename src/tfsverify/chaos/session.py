"""One chaos run: its id and folder, the experiments it ran, and the report it writes.

``tfsverify chaos`` opens a session for the whole catalogue (:func:`open_session`), so the
control adds each experiment to it and one report is written at the end. Under the plain
``chaos run``, no session is open: the control opens one for its experiment and writes the
report itself.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfsverify.chaos.results import run_document, run_id
from tfsverify.report import write_reports

log = logging.getLogger("tfsverify.chaos")


@dataclass
class RunSession:
    """The state of one run. ``manages_target``: the caller brings the target up and down."""

    run_dir: Path
    run_id: str
    target: str
    started_unix: float
    manages_target: bool = False
    experiments: list[dict[str, Any]] = field(default_factory=list)
    journals: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    current_file: str | None = None
    on_event: Callable[[str], None] | None = None

    def event(self, text: str) -> None:
        """A progress event (phase changes) for a live display."""
        if self.on_event is not None:
            try:
                self.on_event(text)
            except Exception:  # a display must never break a run
                log.debug("progress display failed", exc_info=True)

    def document(self) -> dict[str, Any]:
        return run_document(run_id=self.run_id, started_unix=self.started_unix,
                            ended_unix=time.time(), target=self.target,
                            interrupted=self.interrupted, experiments=self.experiments)

    def write(self) -> tuple[dict[str, Any], list[Path]]:
        """Write the report folder (summary, renderings, series, journal.json)."""
        document = self.document()
        paths = write_reports(document, self.run_dir)
        journal = self.run_dir / "journal.json"
        journal.write_text(json.dumps(self.journals, indent=1, default=str) + "\n",
                           encoding="utf-8")
        return document, [*paths, journal]


def new_run_dir(reports_dir: Path, now_unix: float) -> tuple[str, Path]:
    """A fresh ``reports/<run-id>`` (``-2``, ``-3``... when the second is taken)."""
    base = run_id(now_unix)
    for number in range(1, 1000):
        name = base if number == 1 else f"{base}-{number}"
        path = reports_dir / name
        if not path.exists():
            return name, path
    raise FileExistsError(f"no free run folder for {base} in {reports_dir}")


_open: list[RunSession] = []


def open_session(session: RunSession) -> None:
    _open[:] = [session]


def close_session() -> None:
    _open.clear()


def current_session() -> RunSession | None:
    return _open[0] if _open else None
