"""The mesh client's balancer: per-request round robin, and weighted splits by destination."""

from __future__ import annotations

import asyncio
from collections import Counter

from tfsverify.load.mesh import Pool, Upstream

STABLE = ("127.0.9.1:8500", "127.0.9.2:8500", "127.0.9.3:8500")
CANARY = ("127.0.9.4:8500",)


def picks(pool: Pool, count: int) -> Counter[str | None]:
    seen: Counter[str | None] = Counter()
    for _ in range(count):
        host = pool.pick()
        seen[host.address if host else None] += 1
    return seen


def with_pool(check: object) -> None:
    async def run() -> None:
        pool = Pool(seed=7)
        try:
            check(pool)  # type: ignore[operator]
        finally:
            await pool.close()

    asyncio.run(run())


def test_without_a_split_every_address_takes_an_equal_share() -> None:
    def check(pool: Pool) -> None:
        pool.update(Upstream(STABLE + CANARY))
        assert picks(pool, 400) == {address: 100 for address in STABLE + CANARY}

    with_pool(check)


def test_a_weighted_split_sends_each_destination_its_weight() -> None:
    def check(pool: Pool) -> None:
        pool.update(Upstream(STABLE + CANARY, split=((80, STABLE), (20, CANARY))))
        seen = picks(pool, 10_000)
        canary = seen[CANARY[0]] / 10_000
        assert 0.18 < canary < 0.22
        stable = [seen[a] for a in STABLE]
        assert max(stable) - min(stable) <= 1  # round robin within the destination

    with_pool(check)


def test_weight_zero_takes_nothing_and_an_empty_destination_fails_its_share() -> None:
    def check(pool: Pool) -> None:
        pool.update(Upstream(STABLE + CANARY, split=((100, STABLE), (0, CANARY))))
        assert CANARY[0] not in picks(pool, 300)
        # the canary's pod is not ready: its 50 % fail as "no healthy upstream"
        pool.update(Upstream(STABLE, split=((50, STABLE), (50, ()))))
        seen = picks(pool, 4000)
        assert 0.45 < seen[None] / 4000 < 0.55
        pool.update(Upstream((), split=((0, STABLE), (0, CANARY))))
        assert pool.pick() is None

    with_pool(check)


def test_a_retry_stays_within_the_destination_of_the_first_try() -> None:
    def check(pool: Pool) -> None:
        pool.update(Upstream(STABLE + CANARY, split=((50, STABLE), (50, CANARY))))
        for _ in range(20):
            retry = pool.pick_retry({STABLE[0]})
            assert retry is not None and retry.address in STABLE[1:]
            only = pool.pick_retry({CANARY[0]})
            assert only is not None and only.address == CANARY[0]  # the only one there

    with_pool(check)
