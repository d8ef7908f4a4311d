"""The kubelet's part: run a pod's containers, restart them, probe them, stop them.

- Containers run as processes that cannot outlive the supervisor (``processes.py``); their
  output goes to ``<state>/pods/<pod>/<container>.log``.
- A container that exits is restarted with CrashLoopBackOff-like back-off: 1 s, doubling
  up to 30 s, back to 1 s after it ran 60 s; its restart count goes up.
- Probes: the startup probe gates liveness and readiness; liveness failing
  ``failure_threshold`` times kills the container (gracefully) so it restarts; readiness
  makes the container ready after ``success_threshold`` passes and unready after
  ``failure_threshold`` failures. A container without a readiness probe is ready once
  started.
- Stopping: preStop sleep, SIGTERM, SIGKILL once the grace period is over (2 s more if the
  preStop hook used it all, as the kubelet grants).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from tfsverify.targets.local.podplan import ContainerPlan, PodPlan
from tfsverify.targets.local.probes import ProbeCounter, probe_once
from tfsverify.targets.local.processes import kill_group, spawn, wait_exit
from tfsverify.targets.local.spec import Probe
from tfsverify.targets.local.state import ContainerState, EventLog, PodState

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
BACKOFF_RESET_S = 60.0
EXTRA_GRACE_S = 2.0


@dataclass(frozen=True)
class Hooks:
    """Where the kubelet reports: the event log and the status-changed callback."""

    events: EventLog
    changed: Callable[[], None]


class ContainerRunner:
    """One container of a pod, from its first start to its last stop."""

    def __init__(self, pod: PodState, plan: ContainerPlan, record: ContainerState,
                 grace_s: float, cwd: Path, hooks: Hooks) -> None:
        self.pod, self.plan, self.record = pod, plan, record
        self.grace_s, self.cwd, self.hooks = grace_s, cwd, hooks
        self.proc: subprocess.Popen[bytes] | None = None
        self.task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._exited = asyncio.Event()

    def _event(self, type_: str, reason: str, message: str) -> None:
        self.hooks.events.add(type_, f"pod/{self.pod.name}", reason, message)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        delay, first = BACKOFF_BASE_S, True
        while not self._stopping:
            if not first:
                self.record.restarts += 1
            first, ran_s, code = False, 0.0, 128
            self._exited.clear()
            try:
                self.proc = spawn(self.plan, self.cwd)
            except OSError as exc:
                self._event("Warning", "Failed", f"Error: container {self.plan.name}: {exc}")
            else:
                ran_s, code = await self._supervise(self.proc)
            self.proc = None
            self._exited.set()
            self.record.pid, self.record.ready, self.record.started = None, False, False
            self.record.last_exit_code = code
            if self._stopping:
                break
            delay = BACKOFF_BASE_S if ran_s >= BACKOFF_RESET_S else delay
            self.record.state = "CrashLoopBackOff"
            self._event("Warning", "BackOff", f"Back-off {delay:g}s restarting failed container "
                        f"{self.plan.name} in pod {self.pod.name}")
            self.hooks.changed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            delay = min(delay * 2, BACKOFF_CAP_S)
        self.record.state = "Terminated"
        self.hooks.changed()

    async def _supervise(self, proc: subprocess.Popen[bytes]) -> tuple[float, int]:
        started = time.monotonic()
        self.record.pid, self.record.state = proc.pid, "Running"
        self._event("Normal", "Started", f"Started container {self.plan.name}")
        self.hooks.changed()
        probing = asyncio.get_running_loop().create_task(self._probe(started))
        try:
            code = await wait_exit(proc)
        finally:
            probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probing
        return time.monotonic() - started, code

    # probes ------------------------------------------------------------------------------
    async def _results(self, probe: Probe, started: float) -> AsyncIterator[str | None]:
        await asyncio.sleep(max(0.0, started + probe.initial_delay_s - time.monotonic()))
        while True:
            began = time.monotonic()
            yield await probe_once(probe, self.plan.probe_host)
            await asyncio.sleep(max(0.0, probe.period_s - (time.monotonic() - began)))

    async def _probe(self, started: float) -> None:
        plan = self.plan
        if plan.startup is not None:
            counter = ProbeCounter(plan.startup)
            async for failure in self._results(plan.startup, started):
                if failure:
                    self._event("Warning", "Unhealthy", f"Startup probe failed: {failure}")
                verdict = counter.record(failure is None)
                if verdict is False:
                    await self._restart(f"Container {plan.name} failed startup probe")
                    return
                if verdict:
                    break
        self.record.started = True
        if plan.readiness is None:
            self.record.ready = True
        self.hooks.changed()
        loops = [self._watch(p, started, kind) for p, kind in
                 ((plan.liveness, "Liveness"), (plan.readiness, "Readiness")) if p is not None]
        await asyncio.gather(*loops)

    async def _watch(self, probe: Probe, started: float, kind: str) -> None:
        counter = ProbeCounter(probe)
        async for failure in self._results(probe, started):
            if failure:
                self._event("Warning", "Unhealthy", f"{kind} probe failed: {failure}")
            verdict = counter.record(failure is None)
            if kind == "Liveness" and verdict is False:
                await self._restart(f"Container {self.plan.name} failed liveness probe")
                return
            if kind == "Readiness" and verdict is not None and verdict != self.record.ready:
                self.record.ready = verdict
                self.hooks.changed()

    async def _restart(self, why: str) -> None:
        self._event("Normal", "Killing", f"{why}, will be restarted")
        await self._graceful_kill(self.grace_s)

    # stopping ----------------------------------------------------------------------------
    def signal(self, sig: int) -> bool:
        """Send ``sig`` to the container's main process; False when it is not running."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        return True

    async def _graceful_kill(self, grace_s: float) -> None:
        if grace_s > 0 and self.proc is not None:
            deadline = time.monotonic() + grace_s
            if self.plan.pre_stop_sleep_s > 0:
                await self._wait_exited(min(self.plan.pre_stop_sleep_s, grace_s))
            self.signal(signal.SIGTERM)
            await self._wait_exited(max(deadline - time.monotonic(), 0.0) or EXTRA_GRACE_S)
        self.kill_now()

    async def _wait_exited(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._exited.wait(), timeout_s)

    def kill_now(self) -> None:
        """SIGKILL the container's process group (it restarts unless it is stopping)."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            kill_group(proc.pid)

    def abandon(self) -> None:
        """Stop for good, now: SIGKILL and no restart (the supervisor is going away)."""
        self._stopping = True
        self._wake.set()
        self.kill_now()

    async def stop(self, grace_s: float) -> None:
        """Stop for good: preStop, SIGTERM, SIGKILL after ``grace_s``; wait for the exit."""
        self._stopping = True
        self._wake.set()
        await self._graceful_kill(grace_s)
        if self.task is not None:
            await asyncio.wait([self.task], timeout=5.0)


class PodRuntime:
    """The containers of one pod (the sidecar first)."""

    def __init__(self, pod: PodState, plan: PodPlan, cwd: Path, hooks: Hooks) -> None:
        self.pod, self.plan, self.hooks = pod, plan, hooks
        records = {c.name: c for c in pod.containers}
        self.runners = [ContainerRunner(pod, c, records[c.name], plan.grace_s, cwd, hooks)
                        for c in plan.containers]

    def runner(self, container: str) -> ContainerRunner | None:
        return next((r for r in self.runners if r.plan.name == container), None)

    def start(self) -> None:
        self.pod.phase = "Running"
        for runner in self.runners:
            runner.start()
        self.hooks.changed()

    async def terminate(self, grace_s: float | None = None) -> None:
        """Graceful deletion: not ready at once, then every container stopped in parallel."""
        grace = self.plan.grace_s if grace_s is None else grace_s
        self.pod.phase = "Terminating"
        self.hooks.changed()
        for runner in self.runners:
            self.hooks.events.add("Normal", f"pod/{self.pod.name}", "Killing",
                                  f"Stopping container {runner.plan.name}")
        await asyncio.gather(*(r.stop(grace) for r in self.runners))

    def kill_now(self) -> None:
        for runner in self.runners:
            runner.abandon()

    async def wait_stopped(self, timeout_s: float) -> None:
        tasks = [r.task for r in self.runners if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
