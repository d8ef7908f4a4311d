"""How long a plan takes, said up front, and a progress line while it runs.

On a terminal one line is rewritten once a second::

    [ 4/11  1:12 of ~2:40] sweep rep 2/2   5/17 s  200 req/s  p99 4.1 ms

Elsewhere (CI logs) one line is printed when each run ends, with what it measured.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from tfsverify.load import Progress
from tfsverify.perf.plan import Plan

TARGET_START_S = 15.0  # the local target's start-up, measured here (about 12 s)
REPORT_S = 10.0  # statistics and rendering


@dataclass(frozen=True)
class Step:
    """One load run (or the benchmark) of a plan, as the progress line counts it."""

    part: str
    label: str
    planned_s: float


def steps_of(plan: Plan, mesh_pods: int = 1) -> list[Step]:
    """Every run of ``plan`` in order (the mesh part: 2 runs per pod and repetition)."""
    out: list[Step] = []
    for name, part in plan.parts().items():
        reps = part.repetitions
        if name == "mesh":
            pods = mesh_pods if part.pods is None else min(part.pods, mesh_pods)
            for pod in range(pods):
                for rep in range(reps):
                    for way in ("direct", "sidecar"):
                        label = f"mesh pod {pod + 1}/{pods} rep {rep + 1}/{reps} {way}"
                        out.append(Step(name, label, part.run_s()))
            continue
        for rep in range(reps):
            out.append(Step(name, f"{name} rep {rep + 1}/{reps}", part.run_s()))
    if plan.engine_benchmark is not None:
        out.append(Step("engine_benchmark", "load-engine benchmark",
                        plan.engine_benchmark.estimate_s()))
    return out


def estimate_s(steps: list[Step], target_start: bool = True) -> float:
    """Planned seconds of these runs, the report (and the target's start) included."""
    total = sum(step.planned_s for step in steps) + REPORT_S
    return total + (TARGET_START_S if target_start else 0.0)


def clock(seconds: float) -> str:
    minutes, rest = divmod(max(0, round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


class ProgressLine:
    """Counts the runs of a plan and shows where it is."""

    def __init__(self, total_steps: int, estimate_s: float, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total_steps = total_steps
        self.estimate_s = estimate_s
        self.started = time.monotonic()
        self.number = 0
        self.label = ""
        self._width = 0

    def start(self, total_steps: int, estimate_s: float) -> None:
        """Set what is planned; the clock starts now."""
        self.total_steps, self.estimate_s = total_steps, estimate_s
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        """A line of its own (clears the live line first)."""
        self._clear()
        print(text, file=self.stream, flush=True)

    def begin(self, label: str) -> None:
        self.number += 1
        self.label = label
        if self.tty:
            self._show(f"{self._head()} {label}")

    def tick(self, progress: Progress) -> None:
        if not self.tty:
            return
        p99 = f"p99 {progress.p99_ms:.1f} ms" if progress.p99_ms is not None else "warm-up"
        self._show(
            f"{self._head()} {self.label}  {progress.elapsed_s:.0f}/{progress.planned_s:.0f} s"
            f"  {progress.rate_rps:.0f} req/s  {p99}"
        )

    def end(self, summary: str) -> None:
        self.say(f"{self._head()} {self.label}: {summary}")

    def _head(self) -> str:
        elapsed = time.monotonic() - self.started
        return (f"[{self.number:>2}/{self.total_steps} {clock(elapsed)} of "
                f"~{clock(self.estimate_s)}]")

    def _show(self, text: str) -> None:
        padded = text.ljust(self._width)
        self._width = len(text)
        self.stream.write("\r" + padded)
        self.stream.flush()

    def _clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
