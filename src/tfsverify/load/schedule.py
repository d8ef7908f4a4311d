"""When each request is meant to be sent: the open-loop arrival schedule.

The schedule never waits for responses. Request ``i`` (counting from 0) is due at the time
``t`` where the number of requests the rate has asked for so far, the integral of the rate
from 0 to ``t``, equals ``i``. Within a stage whose rate goes linearly from ``r0`` to ``r1``
over ``D`` seconds that integral is ``r0*t + (r1 - r0)*t**2/(2*D)``, solved exactly below.

Every latency is then measured from this *intended* time (wrk2's correction of coordinated
omission): if the client or the connection stalls and a request goes out late, the delay
counts against the service, as it would for a real population of callers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from tfsverify.load.profiles import Profile, Stage


@dataclass(frozen=True)
class Segment:
    """One stretch of the schedule, at ``start_s`` seconds after the run starts."""

    start_s: float
    stage: Stage
    warmup: bool

    @property
    def end_s(self) -> float:
        return self.start_s + self.stage.duration_s


def segments(profile: Profile) -> tuple[Segment, ...]:
    """The profile's stages laid end to end, after a warm-up at the first stage's rate."""
    out: list[Segment] = []
    start = 0.0
    if profile.warmup_s > 0:
        first = profile.stages[0].rate_rps
        out.append(Segment(0.0, Stage(profile.warmup_s, first, first), warmup=True))
        start = profile.warmup_s
    for stage in profile.stages:
        out.append(Segment(start, stage, warmup=False))
        start += stage.duration_s
    return tuple(out)


def total_s(plan: tuple[Segment, ...]) -> float:
    """Seconds from the first intended send to the end of the schedule."""
    return plan[-1].end_s if plan else 0.0


def intended_offsets(
    plan: tuple[Segment, ...], worker: int = 0, workers: int = 1
) -> Iterator[float]:
    """Intended send times, in seconds from the start, of this worker's requests.

    With ``workers`` processes sharing the load, worker ``k`` sends requests
    ``k, k + workers, k + 2*workers, ...`` of the one schedule, so the shares interleave
    and add up exactly to the profile's rate.
    """
    index = 0
    before = 0.0  # requests due before the current segment
    for segment in plan:
        stage = segment.stage
        total = stage.requests
        slope = (stage.to_rps - stage.rate_rps) / (2 * stage.duration_s)
        while True:
            due = index - before
            if due > total:
                break
            offset = _time_of(due, stage.rate_rps, slope)
            if offset >= stage.duration_s:
                break
            if index % workers == worker:
                yield segment.start_s + offset
            index += 1
        before += total


def _time_of(count: float, rate: float, slope: float) -> float:
    """Solve ``rate*t + slope*t**2 == count`` for the first ``t >= 0`` (numerically stable)."""
    if count <= 0:
        return 0.0
    root = math.sqrt(max(rate * rate + 4 * slope * count, 0.0))
    denominator = rate + root
    return 2 * count / denominator if denominator > 0 else math.inf


def is_warmup(plan: tuple[Segment, ...], offset_s: float) -> bool:
    """Whether a request due at ``offset_s`` belongs to the warm-up."""
    return bool(plan) and plan[0].warmup and offset_s < plan[0].end_s


def rate_at(plan: tuple[Segment, ...], offset_s: float) -> float | None:
    """The planned rate (requests/s) at ``offset_s``; ``None`` once the schedule is over."""
    for segment in plan:
        if segment.start_s <= offset_s < segment.end_s:
            stage = segment.stage
            share = (offset_s - segment.start_s) / stage.duration_s
            return stage.rate_rps + (stage.to_rps - stage.rate_rps) * share
    return None
