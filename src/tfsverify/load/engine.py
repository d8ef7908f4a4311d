"""The open-loop gRPC engine of one process: send on schedule, time, check, count.

Requests leave at their intended times (:mod:`tfsverify.load.schedule`) whatever happens to
earlier ones; each latency is measured from the intended time. At most ``max_in_flight``
requests are outstanding: past that bound a due request is not sent but counted as failed
with status ``CLIENT_OVERLOAD``, never dropped silently. Every answer is checked
(:mod:`tfsverify.load.payloads`). Endpoints are re-read every ``refresh_s`` seconds.

When the endpoints carry the route's retry policy (:mod:`tfsverify.load.retries`), a failed
try is retried on another endpoint like a sidecar would: the request's latency still runs
from its intended time to the final answer, its status is the last try's, and every extra
try is counted (``retries``). The profile's ``deadline_ms`` (or the route's shorter
``timeout``) bounds the whole request, retries included; ``perTryTimeout`` each try.

Use :func:`tfsverify.load.run_load`; this module is its single-process core.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import grpc
import grpc.aio

from tfsverify.load.mesh import EndpointSource, Host, Pool, Upstream, as_upstream
from tfsverify.load.payloads import Payloads
from tfsverify.load.profiles import Profile
from tfsverify.load.recorder import CLIENT_OVERLOAD, Counts, IntervalStats, Recorder
from tfsverify.load.retries import RetryRule, per_try_timed_out
from tfsverify.load.schedule import intended_offsets, segments, total_s
from tfsverify.targets.base import RoutePolicy

_YIELD_EVERY = 32  # requests sent back to back before the loop gets a turn


class StopSignal(Protocol):
    """Anything with ``is_set()``: a ``threading.Event`` or a multiprocessing one."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Progress:
    """A once-a-second view of a running load, for progress lines and live checks.

    Counts cover the whole run so far, warm-up included; ``p99_ms`` covers the measured
    part only (``None`` until something was measured).
    """

    elapsed_s: float
    planned_s: float
    warmup: bool
    sent: int
    ok: int
    wrong: int
    failed: int
    in_flight: int
    rate_rps: float
    p99_ms: float | None
    endpoints: int


@dataclass
class EngineOutput:
    """Everything one engine measured; picklable, so worker processes can send it back."""

    start_unix: float
    sent_until_unix: float  # when sending stopped: the schedule's end, or the stop request
    end_unix: float
    interrupted: bool
    totals: Counts
    latency: bytes  # encoded HdrHistogram, measured part
    send_lag: bytes
    series: list[IntervalStats]
    sent_by_address: Counter[str] = field(default_factory=Counter)
    addresses_seen: set[str] = field(default_factory=set)
    refresh_errors: int = 0
    last_refresh_error: str | None = None
    route: RoutePolicy | None = None  # the retry policy applied last (None: no retries)


class Engine:
    """One asyncio load loop. Build it and ``await engine.run()`` inside the process that sends."""

    def __init__(
        self,
        profile: Profile,
        source: EndpointSource,
        payloads: Payloads,
        *,
        start_unix: float | None = None,
        worker: int = 0,
        workers: int = 1,
        refresh_s: float = 0.5,
        on_tick: Callable[[Progress], None] | None = None,
        stop_event: StopSignal | None = None,
        keep_histograms: bool = False,
        seed: int = 0,
    ) -> None:
        self.profile = profile
        self.source = source
        self.payloads = payloads
        self.plan = segments(profile)
        self.planned_s = total_s(self.plan)
        self.warmup_end_s = self.plan[0].end_s if self.plan and self.plan[0].warmup else 0.0
        self.worker, self.workers = worker, workers
        self.refresh_s = refresh_s
        self.on_tick = on_tick
        self.stop_event: StopSignal = stop_event or threading.Event()
        self.deadline_s = profile.deadline_ms / 1000
        self.max_in_flight = max(1, -(-profile.max_in_flight // workers))
        self.pool = Pool(profile.balancing, drain_s=self.deadline_s, seed=seed + worker)
        self._start_unix = start_unix
        self._keep = keep_histograms
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresh_errors = 0
        self._last_refresh_error: str | None = None
        self._last_offset = 0.0
        self._broken = False
        self._rng = random.Random(seed + worker)
        self._route: RoutePolicy | None = None
        self.retry: RetryRule | None = None
        self.overall_s = self.try_s = self.deadline_s

    def _update(self, upstream: Upstream) -> None:
        """New endpoints (and route policy) from the source."""
        self.pool.update(upstream)
        route = upstream.route
        if route == self._route:
            return
        self._route = route
        self.retry = RetryRule.from_route(route)
        overall = self.deadline_s
        if route is not None and not route.fault_on_route and route.timeout_s:
            overall = min(overall, route.timeout_s)
        self.overall_s = overall
        per_try = self.retry.per_try_timeout_s if self.retry is not None else None
        self.try_s = min(overall, per_try) if per_try else overall

    async def run(self) -> EngineOutput:
        """Send the whole schedule (or until the stop event), wait for answers, return counts."""
        self._update(as_upstream(self.source()))  # a failing first read stops the run here
        start_unix = self._start_unix if self._start_unix is not None else time.time()
        self.t0 = time.perf_counter() + (start_unix - time.time())
        self.recorder = Recorder(start_unix, self.warmup_end_s, keep_histograms=self._keep)
        helpers = [asyncio.create_task(self._refresh()), asyncio.create_task(self._tick())]
        helpers[1].add_done_callback(self._tick_ended)
        interrupted = False
        sent_until = start_unix
        try:
            interrupted = await self._send_all()
            sent_until = time.time() if interrupted else start_unix + self.planned_s
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=self.deadline_s + 0.5)
        finally:
            for task in [*helpers, *self._tasks]:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            failures = await asyncio.gather(*helpers, return_exceptions=True)
            await self.pool.close()
        for failure in failures:
            if isinstance(failure, Exception):
                raise failure  # from on_tick: a broken observer must not pass unnoticed
        end_unix = time.time()
        self.recorder.close_all()
        return self._output(start_unix, sent_until, end_unix, interrupted)

    def _tick_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._broken = True  # on_tick raised: stop sending, re-raise after the drain

    # -- sending ----------------------------------------------------------------------

    async def _send_all(self) -> bool:
        """Issue every due request; ``True`` when the stop event cut the schedule short."""
        stop, t0, clock = self.stop_event, self.t0, time.perf_counter
        burst = 0
        for number, offset in enumerate(intended_offsets(self.plan, self.worker, self.workers)):
            due = t0 + offset
            now = clock()
            if due > now:
                burst = 0
                while due > now:
                    if stop.is_set() or self._broken:
                        return True
                    await asyncio.sleep(min(due - now, 0.1))
                    now = clock()
            else:
                burst += 1
                if burst >= _YIELD_EVERY:
                    burst = 0
                    await asyncio.sleep(0)
                    now = clock()
            if stop.is_set() or self._broken:
                return True
            self._last_offset = offset
            self._issue(number, offset, due, now)
        return False

    def _issue(self, number: int, offset: float, due: float, now: float) -> None:
        recorder = self.recorder
        warmup = offset < self.warmup_end_s
        index = recorder.issue(offset, warmup)
        if recorder.in_flight >= self.max_in_flight:
            recorder.failed(index, warmup, CLIENT_OVERLOAD)
            return
        host = self.pool.pick()
        if host is None:  # Envoy: "no healthy upstream"
            recorder.failed(index, warmup, "UNAVAILABLE", no_upstream=True)
            return
        recorder.sent_late_us(int((now - due) * 1e6), warmup)
        recorder.in_flight += 1
        host.in_flight += 1
        task = asyncio.get_running_loop().create_task(
            self._call(host, number % len(self.payloads), index, warmup, due, now)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(
        self, host: Host, batch: int, index: int, warmup: bool, due: float, sent: float
    ) -> None:
        recorder = self.recorder
        try:
            try:
                raw = await host.call(self.payloads.bodies[batch], timeout=self.try_s)
            except grpc.aio.AioRpcError as err:
                raw = await self._retry(err, host, batch, index, warmup, sent)
        except grpc.aio.AioRpcError as err:
            recorder.failed(index, warmup, err.code().name)
        except (asyncio.CancelledError, grpc.aio.UsageError):
            recorder.failed(index, warmup, "CANCELLED")  # the run ended before the answer
        else:
            latency_us = int((time.perf_counter() - due) * 1e6)
            recorder.answered(index, warmup, latency_us, self.payloads.check(raw, batch))
        finally:
            recorder.in_flight -= 1
            host.in_flight -= 1

    async def _retry(
        self, err: grpc.aio.AioRpcError, host: Host, batch: int, index: int, warmup: bool,
        sent: float,
    ) -> bytes:
        """Retry a failed try as the route's policy says; the answer, or the last error."""
        rule = self.retry
        if rule is None:
            raise err
        clock = time.perf_counter
        tried = {host.address}
        try_start, try_s = sent, self.try_s
        for retry in range(1, rule.retries + 1):
            now = clock()
            left_s = self.overall_s - (now - sent)
            code = err.code()
            timed_out = per_try_timed_out(code, now - try_start, try_s)
            if left_s <= 0.001 or not rule.retries_on(code, err.details() or "", timed_out):
                break
            pause_s = rule.backoff_s(retry, self._rng)
            if pause_s >= left_s:
                break
            if pause_s > 0:
                await asyncio.sleep(pause_s)
            target = self.pool.pick_retry(tried)
            if target is None:
                break  # no ready endpoint left: the last error stands
            tried.add(target.address)
            try_start = clock()
            try_s = self.overall_s - (try_start - sent)
            if rule.per_try_timeout_s:
                try_s = min(try_s, rule.per_try_timeout_s)
            self.recorder.retried(index, warmup)
            target.in_flight += 1
            try:
                return await target.call(self.payloads.bodies[batch], timeout=try_s)
            except grpc.aio.AioRpcError as again:
                err = again
            finally:
                target.in_flight -= 1
        raise err

    # -- background: endpoint refresh and the once-a-second tick -------------------------

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                upstream = as_upstream(await asyncio.to_thread(self.source))
                self._update(upstream)
            except Exception as exc:  # keep the last endpoints, count the failure, go on
                self._refresh_errors += 1
                self._last_refresh_error = f"{type(exc).__name__}: {exc}"

    async def _tick(self) -> None:
        second = 1
        while True:
            await asyncio.sleep(max(0.0, self.t0 + second - time.perf_counter()))
            # intervals wholly before the last request issued can no longer grow
            self.recorder.close_finished(int(self._last_offset))
            if self.on_tick is not None:
                self.on_tick(self.progress(second))
            second += 1

    def progress(self, second: int) -> Progress:
        recorder = self.recorder
        seen = recorder.seen()
        p99 = None
        if recorder.latency.get_total_count():
            p99 = recorder.latency.get_percentile_to_value_dict([99.0])[99.0] / 1000
        return Progress(
            elapsed_s=float(second),
            planned_s=self.planned_s,
            warmup=second <= self.warmup_end_s,
            sent=seen.sent,
            ok=seen.ok,
            wrong=seen.wrong,
            failed=seen.failed,
            in_flight=recorder.in_flight,
            rate_rps=float(recorder.sent_in(second - 1)),
            p99_ms=p99,
            endpoints=self.pool.size,
        )

    def _output(
        self, start_unix: float, sent_until: float, end_unix: float, interrupted: bool
    ) -> EngineOutput:
        recorder = self.recorder
        return EngineOutput(
            start_unix=start_unix,
            sent_until_unix=sent_until,
            end_unix=end_unix,
            interrupted=interrupted,
            totals=recorder.totals,
            latency=recorder.latency.encode(),
            send_lag=recorder.send_lag.encode(),
            series=recorder.series(),
            sent_by_address=self.pool.sent_by_address,
            addresses_seen=self.pool.addresses_seen,
            refresh_errors=self._refresh_errors,
            last_refresh_error=self._last_refresh_error,
            route=self._route,
        )
