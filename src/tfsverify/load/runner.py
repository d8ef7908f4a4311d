"""``run_load``: run one load profile against a service and return what it measured."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tfsverify.load.engine import Engine, Progress, StopSignal
from tfsverify.load.mesh import EndpointSource
from tfsverify.load.payloads import AnswerKey, Payloads
from tfsverify.load.profiles import Profile
from tfsverify.load.result import LoadResult, environment
from tfsverify.load.workers import run_in_workers


def run_load(
    profile: Profile,
    endpoints: EndpointSource,
    *,
    golden: AnswerKey,
    on_tick: Callable[[Progress], None] | None = None,
    stop_event: StopSignal | None = None,
    refresh_s: float = 0.5,
    mode: str = "mesh",
    seed: int = 0,
    keep_histograms: bool = False,
    start_unix: float | None = None,
) -> LoadResult:
    """Send ``profile``'s open-loop Predict load and check every answer against ``golden``.

    ``endpoints`` is called before the run and every ``refresh_s`` seconds during it (in a
    helper thread); it returns the target's :class:`~tfsverify.targets.base.Endpoint` (ready
    addresses plus the client's mTLS material) or an
    :class:`~tfsverify.load.mesh.Upstream`. If it raises later on, the last endpoints stay
    in use and the failure is counted in the result; if it raises before the run, the
    error propagates. ``on_tick`` gets a :class:`Progress` once a second. Setting
    ``stop_event`` stops sending at once; answers still in flight are awaited up to the
    deadline and the partial result is returned with ``interrupted`` set.

    With ``profile.workers > 1`` the load is shared by that many spawned processes.
    ``keep_histograms`` keeps each second's HdrHistogram in the series (for exact window
    percentiles; worker runs always keep them to merge); ``start_unix`` fixes the run's
    time zero (default: when the engine starts).
    Call it from a thread that runs no asyncio event loop.
    """
    if profile.workers > 1:
        output = run_in_workers(
            profile,
            endpoints,
            golden,
            profile.workers,
            on_tick=on_tick,
            stop_event=stop_event,
            refresh_s=refresh_s,
            seed=seed,
        )
    else:
        engine = Engine(
            profile,
            endpoints,
            Payloads(golden, profile.batch_size, profile.model_version),
            refresh_s=refresh_s,
            on_tick=on_tick,
            stop_event=stop_event,
            seed=seed,
            keep_histograms=keep_histograms,
            start_unix=start_unix,
        )
        output = asyncio.run(engine.run())
    return LoadResult(
        profile=profile,
        mode=mode,
        workers=profile.workers,
        output=output,
        environment=environment(),
    )
