"""Load shared by spawned worker processes: exact shares, merged counts and histograms."""

from __future__ import annotations

import multiprocessing
from typing import Any

from tfsverify.load import Progress, fixed_upstream, profile_from_dict, run_load


def test_two_workers_send_the_whole_schedule_and_merge(fake_server: Any, golden: Any) -> None:
    profile = profile_from_dict(
        {"kind": "constant", "rate_rps": 100, "duration_s": 1.5, "workers": 2, "warmup_s": 0.5}
    )
    ticks: list[Progress] = []
    result = run_load(
        profile, fixed_upstream(fake_server.address), golden=golden, on_tick=ticks.append
    )
    totals = result.output.totals
    assert (totals.sent, totals.ok) == (150, 150)
    assert fake_server.received == 200
    assert result.latency.get_total_count() == 150
    assert [row.sent for row in result.series] == [100, 100]
    assert sum(row.ok for row in result.series) == 200
    assert result.series[1].p99_ms is not None
    # both workers' first second, summed (the request due at exactly 1.0 s may be out too)
    assert ticks and ticks[0].rate_rps == 100 and 100 <= ticks[0].sent <= 102
    assert result.to_dict()["client"]["workers"] == 2
    assert multiprocessing.active_children() == []
