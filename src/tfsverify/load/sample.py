"""A small sequential sample of Predict answers through the mesh client: who answered?

Probes use it to see what clients see right now: each call goes through the same balancer
and weighted split as the load (:class:`tfsverify.load.mesh.Pool`), and each answer is
checked against the golden scores of the version that gave it. The count of answers per
model version shows how a canary rollout splits the traffic.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc

from tfsverify.errors import BadInput
from tfsverify.load.mesh import EndpointSource, Pool, as_upstream
from tfsverify.load.payloads import AnswerKey, Payloads

MAX_REQUESTS = 5000


@dataclass
class AnswerSample:
    """Outcomes of ``requests`` calls: right answers per model version, wrong ones, errors."""

    requests: int
    right_by_version: Counter[int] = field(default_factory=Counter)
    wrong: int = 0
    failed_by_status: Counter[str] = field(default_factory=Counter)

    def share_pct(self, version: int) -> float:
        """Percent of all calls that ``version`` answered right."""
        return 100.0 * self.right_by_version[version] / self.requests if self.requests else 0.0

    def describe(self) -> str:
        parts = [f"v{v}: {n}" for v, n in sorted(self.right_by_version.items())]
        if self.wrong:
            parts.append(f"wrong: {self.wrong}")
        parts += [f"{status}: {n}" for status, n in sorted(self.failed_by_status.items())]
        return f"{self.requests} calls: " + ", ".join(parts)


def sample_answers(endpoints: EndpointSource, golden: AnswerKey, requests: int = 200,
                   deadline_s: float = 2.0, budget_s: float = 30.0) -> AnswerSample:
    """Send ``requests`` golden Predict calls one after another (each bounded by
    ``deadline_s``, all by ``budget_s``) and count who answered and how."""
    if not 1 <= requests <= MAX_REQUESTS:
        raise BadInput(f"requests={requests}: from 1 to {MAX_REQUESTS}")
    return asyncio.run(_sample(endpoints, golden, requests, deadline_s, budget_s))


async def _sample(endpoints: EndpointSource, golden: AnswerKey, requests: int,
                  deadline_s: float, budget_s: float) -> AnswerSample:
    payloads = Payloads(golden)
    pool = Pool(seed=requests)
    sample = AnswerSample(requests)
    stop_at = time.monotonic() + budget_s
    try:
        pool.update(as_upstream(endpoints()))
        for number in range(requests):
            if time.monotonic() > stop_at:
                sample.failed_by_status["NOT_SENT"] += requests - number
                break
            host = pool.pick()
            if host is None:
                sample.failed_by_status["UNAVAILABLE"] += 1  # no healthy upstream
                continue
            batch = number % len(payloads)
            try:
                raw = await host.call(payloads.bodies[batch], timeout=deadline_s)
            except grpc.aio.AioRpcError as exc:
                sample.failed_by_status[exc.code().name] += 1
                continue
            version = payloads.answered_version(raw, batch)
            if version is None:
                sample.wrong += 1
            else:
                sample.right_by_version[version] += 1
    finally:
        await pool.close()
    return sample
