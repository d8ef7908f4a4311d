"""Running one load profile for the report, and measuring CPU and memory beside it.

:func:`run_measured` is :func:`tfsverify.load.run_load` for one client process, keeping
each second's latency histogram (the report resamples seconds; ``run_load`` keeps only
their percentiles). :class:`CpuMeter` reads processes' CPU time (user + system) before
and after a run; :class:`MemorySampler` samples resident memory in a background thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil

from tfsverify.errors import TargetError
from tfsverify.load import LoadResult, Profile, Progress, run_load
from tfsverify.load.engine import StopSignal
from tfsverify.load.mesh import EndpointSource
from tfsverify.load.payloads import AnswerKey


def run_measured(
    profile: Profile,
    endpoints: EndpointSource,
    golden: AnswerKey,
    *,
    on_tick: Callable[[Progress], None] | None = None,
    stop_event: StopSignal | None = None,
    mode: str = "mesh",
    seed: int = 0,
) -> LoadResult:
    """Send ``profile`` from this process; the result's series rows keep their histograms.

    Raises :class:`TargetError` when nothing at all was answered (the target is not serving).
    """
    result = run_load(
        profile.with_overrides(workers=1), endpoints, golden=golden, on_tick=on_tick,
        stop_event=stop_event, mode=mode, seed=seed, keep_histograms=True,
    )
    output = result.output
    answered = sum(row.ok + row.wrong for row in result.series)
    if answered == 0 and not output.interrupted:
        statuses = dict(output.totals.by_status)
        raise TargetError(f"no request was answered during {profile.name}: {statuses or 'none'}")
    return result


class CpuMeter:
    """CPU seconds (user + system) used by named processes between ``start`` and ``stop``.

    ``None`` as a pid means this process (the load client: every thread of it).
    """

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: _cpu_s(p) for name, p in self._processes.items()}

    def stop(self) -> dict[str, float]:
        """CPU seconds per name since :meth:`start`."""
        try:
            return {name: _cpu_s(p) - self._before[name] for name, p in self._processes.items()}
        except psutil.NoSuchProcess as exc:
            raise TargetError(f"process {exc.pid} ended during the measurement "
                              "(a restarted container makes CPU per request meaningless)") from exc


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class MemorySampler:
    """Samples the resident memory (MB) of named processes every ``every_s`` seconds."""

    pids: Mapping[str, int]
    every_s: float
    samples: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="perf-memory", daemon=True)
        self._processes = {name: psutil.Process(pid) for name, pid in self.pids.items()}
        self._t0 = 0.0

    def __enter__(self) -> MemorySampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 5)
        self._sample()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every_s)

    def _sample(self) -> None:
        row = {"offset_s": round(time.monotonic() - self._t0, 2)}
        for name, process in self._processes.items():
            try:
                row[name] = round(process.memory_info().rss / 2**20, 2)
            except psutil.Error:
                continue  # a restarted container: its series just ends
        self.samples.append(row)
