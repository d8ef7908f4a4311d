"""The experiment's background load as a Kubernetes Job inside the mesh.

On the kubernetes target with ``TFSVERIFY_KUBE_LOAD=job`` (the default) STRICT mTLS admits
only meshed callers, so the control's load runs as a Job (namespace ``tfsverify``,
service account ``loadgen``, Istio sidecar) that streams its results to its log
(``tfsverify load --stream``). :class:`JobLoad` has :class:`BackgroundLoad`'s interface:
:meth:`start` creates the Job and waits until its load has begun (its header line gives
the run's time zero); :meth:`wait_until` polls the pod and the log's last lines every few
seconds (``latest``), and fails at once when the pod ends early; :meth:`stop` waits for the
seconds already sent to be answered and written, reads the whole log, deletes the Job
(always, also after an error) and returns the result cut at the stop time. Requests of the
second in which the load is stopped are not counted (only whole seconds are).

The times in the log are the pod's clock; the activity times are this machine's. On kind
they are the same clock; on a real cluster both should be NTP-synchronised.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from tfsverify.chaos.background import BackgroundLoad
from tfsverify.errors import TargetError
from tfsverify.load.engine import Progress
from tfsverify.load.payloads import AnswerKey
from tfsverify.load.profiles import Profile
from tfsverify.load.result import LoadResult
from tfsverify.load.stream import StreamView, empty_result, read_stream, result_from_stream

POLL_S = 2.0  # default; the target's poll_s times two
_TAIL_LINES = 4


class Runner(Protocol):
    """What :class:`JobLoad` needs of the target's Job runner (``KubernetesTarget.load_job``)."""

    @property
    def dry_run(self) -> bool: ...

    def create(self) -> None: ...
    def wait_running(self, timeout_s: float) -> Any: ...
    def pod(self) -> Any: ...
    def log(self, tail_lines: int | None = None) -> str: ...
    def delete(self) -> None: ...


class JobLoad:
    """The load Job: :meth:`start`, :meth:`wait_until`, :meth:`stop` (like BackgroundLoad)."""

    def __init__(self, profile: Profile, make_runner: Callable[[str, str, float, float], Runner],
                 start_timeout_s: float = 180.0, poll_s: float = POLL_S) -> None:
        self.profile = profile
        self._make_runner = make_runner
        self._start_timeout_s = start_timeout_s
        self._poll_s = poll_s
        self._runner: Runner | None = None
        self._stopped = False
        self.start_unix: float | None = None
        self.latest: Progress | None = None

    def start(self) -> None:
        """Create the Job, wait for its pod and for the load's first line (bounded)."""
        document = dict(self.profile.document) | {"warmup_s": self.profile.warmup_s}
        name = f"tfsverify-load-{time.strftime('%H%M%S')}-{secrets.token_hex(2)}"
        runner = self._runner = self._make_runner(
            name, json.dumps(document), self.profile.peak_rps, self.profile.duration_s)
        try:
            runner.create()
            if runner.dry_run:
                self.start_unix = time.time()
                return
            deadline = time.monotonic() + self._start_timeout_s
            runner.wait_running(self._start_timeout_s)
            while (start := read_stream(runner.log().splitlines()).start_unix) is None:
                self._check_pod("before its load started")
                if time.monotonic() >= deadline:
                    raise TargetError(f"the load Job's pod runs but printed no load header "
                                      f"within {self._start_timeout_s:g} s")
                time.sleep(min(self._poll_s, 1.0))
            self.start_unix = start
        except BaseException:
            self._stopped = True
            runner.delete()
            raise

    @property
    def measured_from_unix(self) -> float:
        """When the warm-up ends (the pod's clock)."""
        assert self.start_unix is not None
        return self.start_unix + self.profile.warmup_s

    def _check_pod(self, when: str) -> None:
        assert self._runner is not None
        pod = self._runner.pod()
        if pod is None or pod.phase != "Running" or pod.problem is not None:
            state = "is gone" if pod is None else f"is {pod.phase}"
            reason = f": {pod.problem}" if pod is not None and pod.problem else ""
            raise TargetError(f"the load Job's pod {state} {when}{reason}; "
                              f"log: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            lines = (self._runner.log(tail_lines=_TAIL_LINES) if self._runner else "").splitlines()
        except TargetError as exc:
            return f"unreadable ({exc})"
        plain = [line for line in lines if not line.startswith("{")]
        return " | ".join(plain[-2:]) or (lines[-1][:200] if lines else "(empty)")

    def _poll(self) -> None:
        assert self._runner is not None
        if self._stopped:
            raise TargetError("the load Job was stopped")
        if self._runner.dry_run:
            return
        self._check_pod("before the experiment ended")
        view = read_stream(self._runner.log(tail_lines=_TAIL_LINES).splitlines())
        if view.end is not None:
            raise TargetError("the load Job's load ended before the experiment (its profile's "
                              "duration_s is shorter than the experiment)")
        self.latest = view.latest() or self.latest

    def wait_until(self, unix: float) -> None:
        """Sleep until ``unix``, checking the Job every few seconds (TargetError if it ended)."""
        if self._runner is None:
            raise TargetError("the load Job was never started")
        while time.time() < unix:
            self._poll()
            time.sleep(min(self._poll_s, max(0.0, unix - time.time())))

    def stop(self, timeout_s: float = 15.0) -> LoadResult:
        """Collect what was measured up to now, delete the Job, return the result."""
        stop_unix = time.time()
        runner = self._runner
        if runner is None or self.start_unix is None:
            if runner is not None:
                runner.delete()
            raise TargetError("the load Job did not start, so nothing was measured")
        try:
            if runner.dry_run:
                return empty_result(self.profile, self.start_unix)
            view = self._collect(runner, stop_unix, timeout_s)
            return result_from_stream(view, stop_unix)
        finally:
            self._stopped = True
            runner.delete()

    def _collect(self, runner: Runner, stop_unix: float, timeout_s: float) -> StreamView:
        """The log once every second that ended by ``stop_unix`` is in it (bounded)."""
        assert self.start_unix is not None
        wanted = int(stop_unix - self.start_unix) - 1  # the last whole second
        limit = time.monotonic() + min(timeout_s, self.profile.deadline_ms / 1000 + 5.0)
        while True:
            view = read_stream(runner.log().splitlines())
            last = view.seconds[-1]["index"] if view.seconds else -1
            if last >= wanted or view.end is not None or time.monotonic() >= limit:
                return view
            pod = runner.pod()
            if pod is None or pod.phase != "Running":
                return view
            time.sleep(0.5)


def background_load(target: Any, profile: Profile, golden: AnswerKey) -> BackgroundLoad | JobLoad:
    """The experiment's load: a Job inside the mesh on the kubernetes target in ``job`` mode
    (``TFSVERIFY_KUBE_LOAD``), else the engine in this process."""
    if getattr(target, "load_mode", None) == "job":
        settings = target.settings

        def make_runner(name: str, document: str, rate_rps: float, duration_s: float) -> Runner:
            runner: Runner = target.load_job(name, profile.name, document, rate_rps, duration_s)
            return runner

        return JobLoad(profile, make_runner, settings.load_start_timeout_s, 2 * settings.poll_s)
    return BackgroundLoad(profile, target.endpoint, golden)
