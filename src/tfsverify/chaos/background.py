"""The experiment's background load: the load engine in a thread for the whole experiment.

It keeps every second's HdrHistogram (``keep_histograms``), so that the SLO code can merge
them into exact window percentiles.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tfsverify.errors import TargetError
from tfsverify.load.engine import Progress
from tfsverify.load.payloads import AnswerKey
from tfsverify.load.profiles import Profile
from tfsverify.load.result import LoadResult
from tfsverify.load.runner import run_load
from tfsverify.targets.base import Endpoint

_POLL_S = 0.05


class BackgroundLoad:
    """Open-loop load in a daemon thread: :meth:`start`, :meth:`wait_measured`, :meth:`stop`."""

    def __init__(self, profile: Profile, endpoints: Callable[[], Endpoint],
                 golden: AnswerKey, on_tick: Callable[[Progress], None] | None = None) -> None:
        self.profile = profile
        self._endpoints = endpoints
        self._golden = golden
        self._on_tick = on_tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: LoadResult | None = None
        self._error: BaseException | None = None
        self.start_unix: float | None = None
        self.latest: Progress | None = None

    def _tick(self, progress: Progress) -> None:
        self.latest = progress
        if self._on_tick is not None:
            self._on_tick(progress)

    def _run(self) -> None:
        try:
            assert self.start_unix is not None
            self._result = run_load(
                self.profile.with_overrides(workers=1), self._endpoints, golden=self._golden,
                on_tick=self._tick, stop_event=self._stop, keep_histograms=True,
                start_unix=self.start_unix,
            )
        except BaseException as exc:  # reported by stop(); the thread must not die silently
            self._error = exc

    def start(self) -> None:
        """Start sending now (the first ``profile.warmup_s`` seconds are warm-up)."""
        self.start_unix = time.time()
        self._thread = threading.Thread(target=self._run, name="tfsverify-load", daemon=True)
        self._thread.start()

    @property
    def measured_from_unix(self) -> float:
        """When the warm-up ends."""
        assert self.start_unix is not None
        return self.start_unix + self.profile.warmup_s

    def wait_until(self, unix: float) -> None:
        """Sleep until ``unix`` (TargetError if the load stopped meanwhile)."""
        while time.time() < unix:
            if self._thread is None or not self._thread.is_alive():
                raise TargetError(f"the background load stopped early: {self._error_text()}")
            time.sleep(min(_POLL_S, max(0.0, unix - time.time())))

    def _error_text(self) -> str:
        return str(self._error) if self._error else "no error reported"

    def stop(self, timeout_s: float = 15.0) -> LoadResult:
        """Stop sending, wait for answers in flight, return what was measured."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise TargetError(f"the background load did not stop within {timeout_s:g} s")
        if self._result is None:
            error = self._error
            if isinstance(error, KeyboardInterrupt):
                raise error
            raise TargetError(f"the background load failed: {self._error_text()}") from error
        return self._result
