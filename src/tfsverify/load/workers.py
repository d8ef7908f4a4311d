"""Share one profile's load between worker processes, past the GIL.

Each worker is a fresh process (multiprocessing ``spawn``: nothing of grpc crosses a fork)
running its own :class:`~tfsverify.load.engine.Engine` on its share of the one schedule:
worker ``k`` of ``n`` sends requests ``k, k+n, k+2n, ...``, all from a start instant agreed
in wall-clock time. This process reads the endpoints and forwards changes, sums the
workers' progress, relays a stop, and merges their results exactly
(:mod:`tfsverify.load.merge`). Workers ignore Ctrl-C; the parent stops them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from tfsverify.errors import TargetError, TfsverifyError
from tfsverify.load.engine import Engine, EngineOutput, Progress, StopSignal
from tfsverify.load.merge import merge_outputs
from tfsverify.load.mesh import EndpointSource, Upstream, as_upstream
from tfsverify.load.payloads import AnswerKey, Payloads
from tfsverify.load.profiles import Profile

STARTUP_TIMEOUT_S = 120.0
START_MARGIN_S = 0.3


@dataclass(frozen=True)
class WorkerSpec:
    profile: Profile
    golden: AnswerKey
    worker: int
    workers: int
    first: Upstream
    refresh_s: float
    seed: int


def run_in_workers(
    profile: Profile,
    source: EndpointSource,
    golden: AnswerKey,
    workers: int,
    *,
    on_tick: Callable[[Progress], None] | None = None,
    stop_event: StopSignal | None = None,
    refresh_s: float = 0.5,
    seed: int = 0,
) -> EngineOutput:
    """Run ``profile`` split over ``workers`` processes; returns the merged output."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    progress_queue: Any = ctx.Queue()
    current = as_upstream(source())
    controls: list[Connection] = []
    updates: list[Connection] = []
    processes = []
    try:
        for number in range(workers):
            control, child_control = ctx.Pipe()
            update_reader, update_writer = ctx.Pipe(duplex=False)
            spec = WorkerSpec(profile, golden, number, workers, current, refresh_s, seed)
            process = ctx.Process(
                target=_worker_main,
                args=(spec, child_control, update_reader, progress_queue, stop),
                name=f"tfsverify-load-{number}",
                daemon=True,
            )
            process.start()
            controls.append(control)
            updates.append(update_writer)
            processes.append(process)
        for control in controls:
            _expect(control, "ready", STARTUP_TIMEOUT_S)
        start_unix = time.time() + START_MARGIN_S
        for control in controls:
            control.send(("go", start_unix))
        outputs, refresh_errors = _supervise(
            controls,
            updates,
            processes,
            source,
            current,
            progress_queue,
            stop,
            stop_event,
            on_tick,
            refresh_s,
        )
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        progress_queue.close()
        progress_queue.cancel_join_thread()
    merged = merge_outputs(outputs)
    merged.refresh_errors += refresh_errors
    return merged


def _supervise(
    controls: list[Connection],
    updates: list[Connection],
    processes: list[Any],
    source: EndpointSource,
    current: Upstream,
    progress_queue: Any,
    stop: Any,
    stop_event: StopSignal | None,
    on_tick: Callable[[Progress], None] | None,
    refresh_s: float,
) -> tuple[list[EngineOutput], int]:
    outputs: dict[int, EngineOutput] = {}
    ticks: dict[float, list[Progress]] = {}
    refresh_errors = 0
    next_refresh = time.monotonic() + refresh_s
    while len(outputs) < len(controls):
        waiting = [c for i, c in enumerate(controls) if i not in outputs]
        for control in wait(waiting, timeout=min(refresh_s, 0.2)):
            assert isinstance(control, Connection)
            outputs[controls.index(control)] = _expect(control, "done", 0)
        for number, process in enumerate(processes):
            if number not in outputs and not process.is_alive() and not controls[number].poll():
                raise TargetError(f"load worker {number} died (exit code {process.exitcode})")
        if stop_event is not None and stop_event.is_set():
            stop.set()
        if time.monotonic() >= next_refresh:
            next_refresh = time.monotonic() + refresh_s
            try:
                latest = as_upstream(source())
            except Exception:  # keep the last endpoints, as a worker would
                refresh_errors += 1
            else:
                if latest != current:
                    current = latest
                    for update in updates:
                        update.send(latest)
        _relay_progress(progress_queue, ticks, len(controls), on_tick)
    return [outputs[i] for i in range(len(controls))], refresh_errors


def _relay_progress(
    queue: Any,
    ticks: dict[float, list[Progress]],
    workers: int,
    on_tick: Callable[[Progress], None] | None,
) -> None:
    while not queue.empty():
        progress: Progress = queue.get_nowait()
        arrived = ticks.setdefault(progress.elapsed_s, [])
        arrived.append(progress)
        if len(arrived) == workers:
            del ticks[progress.elapsed_s]
            if on_tick is not None:
                on_tick(_sum_progress(arrived))


def _sum_progress(parts: list[Progress]) -> Progress:
    """Counts add up; ``p99_ms`` is the highest worker's (an approximation for display)."""
    p99s = [p.p99_ms for p in parts if p.p99_ms is not None]
    return Progress(
        elapsed_s=parts[0].elapsed_s,
        planned_s=parts[0].planned_s,
        warmup=parts[0].warmup,
        sent=sum(p.sent for p in parts),
        ok=sum(p.ok for p in parts),
        wrong=sum(p.wrong for p in parts),
        failed=sum(p.failed for p in parts),
        in_flight=sum(p.in_flight for p in parts),
        rate_rps=sum(p.rate_rps for p in parts),
        p99_ms=max(p99s) if p99s else None,
        endpoints=max(p.endpoints for p in parts),
    )


def _expect(control: Connection, what: str, timeout_s: float) -> Any:
    if timeout_s and not control.poll(timeout_s):
        raise TargetError(f"a load worker did not get {what} within {timeout_s:g} s")
    try:
        kind, value = control.recv()
    except EOFError as exc:
        raise TargetError("a load worker exited before it reported") from exc
    if kind == "error":
        raise value if isinstance(value, TfsverifyError) else TargetError(str(value))
    return value


class _PipeSource:
    """The endpoints as this worker last heard of them from the parent."""

    def __init__(self, updates: Connection, first: Upstream) -> None:
        self._updates = updates
        self._latest = first

    def __call__(self) -> Upstream:
        while self._updates.poll():
            self._latest = self._updates.recv()
        return self._latest


def _worker_main(
    spec: WorkerSpec, control: Connection, updates: Connection, progress: Any, stop: Any
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        payloads = Payloads(spec.golden, spec.profile.batch_size, spec.profile.model_version)
        control.send(("ready", None))
        if not control.poll(STARTUP_TIMEOUT_S):
            return
        _, start_unix = control.recv()
        engine = Engine(
            spec.profile,
            _PipeSource(updates, spec.first),
            payloads,
            start_unix=start_unix,
            worker=spec.worker,
            workers=spec.workers,
            refresh_s=spec.refresh_s,
            on_tick=progress.put,
            stop_event=stop,
            keep_histograms=True,
            seed=spec.seed,
        )
        output = asyncio.run(engine.run())
    except TfsverifyError as exc:
        control.send(("error", exc))
    except Exception as exc:  # report any failure to the parent as one line
        control.send(("error", f"load worker {spec.worker}: {type(exc).__name__}: {exc}"))
    else:
        control.send(("done", output))
