"""The engine against a fake PredictionService: real gRPC on 127.0.0.1, short low-rate runs."""

from __future__ import annotations

import threading
import time
from typing import Any

import grpc
import numpy as np

from tfsverify.load import (
    CLIENT_OVERLOAD,
    ClientTls,
    Progress,
    Upstream,
    fixed_upstream,
    profile_from_dict,
    run_load,
)


def constant(rate: float, seconds: float, **extra: Any) -> Any:
    return profile_from_dict({"kind": "constant", "rate_rps": rate, "duration_s": seconds, **extra})


def test_short_run_gets_every_answer_right(fake_server: Any, golden: Any) -> None:
    ticks: list[Progress] = []
    result = run_load(
        constant(100, 1.5, warmup_s=0.5),
        fixed_upstream(fake_server.address),
        golden=golden,
        on_tick=ticks.append,
    )
    totals = result.output.totals
    assert (totals.sent, totals.ok, totals.wrong, totals.failed) == (150, 150, 0, 0)
    assert fake_server.received == 200  # the warm-up's 50 were sent too
    # second 0 holds the 0.5 s warm-up and the first half second measured
    assert [row.warmup for row in result.series] == [True, False]
    assert [row.sent for row in result.series] == [100, 100]
    assert result.latency.get_total_count() == 150
    assert ticks and ticks[0].sent > 0 and ticks[-1].endpoints == 1
    doc = result.to_dict()
    assert doc["totals"]["availability"] == 1.0
    assert doc["status_counts"] == {"OK": 150}
    assert doc["latency_ms"]["p50"] is not None


def test_wrong_scores_are_counted_apart_from_errors(fake_server: Any, golden: Any) -> None:
    fake_server.wrong = True
    result = run_load(constant(100, 0.5), fixed_upstream(fake_server.address), golden=golden)
    totals = result.output.totals
    assert (totals.wrong, totals.ok, totals.failed) == (50, 0, 0)
    assert result.to_dict()["status_counts"] == {"OK": 50}


def test_error_statuses_are_counted_by_name(fake_server: Any, golden: Any) -> None:
    fake_server.fail_with = grpc.StatusCode.RESOURCE_EXHAUSTED
    result = run_load(constant(100, 0.5), fixed_upstream(fake_server.address), golden=golden)
    assert result.output.totals.by_status == {"RESOURCE_EXHAUSTED": 50}
    assert result.series[0].failed_by_status == {"RESOURCE_EXHAUSTED": 50}


def test_latency_counts_the_queueing_behind_a_server_stall(fake_server: Any, golden: Any) -> None:
    """Requests due during a 1 s stall wait until it ends; the truth follows from the plan."""
    rate, stall_after_s = 100, 0.5
    start = time.time()
    fake_server.stall(start + stall_after_s, 1.0)
    result = run_load(
        constant(rate, 2.5, deadline_ms=3000), fixed_upstream(fake_server.address), golden=golden
    )
    t0 = result.output.start_unix
    stall_start, stall_end = fake_server.stall_from_unix, fake_server.stall_until_unix
    truth = sorted(
        max(0.0, stall_end - due) * 1000 if due >= stall_start else 0.0
        for due in (t0 + i / rate for i in range(int(rate * 2.5)))
    )
    measured = result.percentiles_ms()
    for key, percentile in (("p90", 90), ("p99", 99)):
        expected = float(np.percentile(truth, percentile, method="higher"))
        assert abs(measured[key] - expected) < 80, (key, measured[key], expected)
    assert result.output.totals.ok == 250


def test_a_client_stall_is_counted_against_latency(fake_server: Any, golden: Any) -> None:
    """wrk2's correction: requests the client itself sent late are timed from their due time."""

    def freeze_once(progress: Progress) -> None:
        if progress.elapsed_s == 1:
            time.sleep(0.4)  # blocks the engine's event loop, like a GC pause would

    result = run_load(
        constant(100, 2),
        fixed_upstream(fake_server.address),
        golden=golden,
        on_tick=freeze_once,
    )
    latency = result.latency
    assert result.output.totals.ok == 200
    assert latency.get_max_value() >= 350_000  # µs: the first request due in the freeze
    # requests due in [1.0, 1.3) s waited more than 100 ms: 30 of 200, 15 %
    assert latency.get_value_at_percentile(80) < 100_000 < latency.get_value_at_percentile(90)
    assert result.to_dict()["send_lag_ms"]["max"] >= 350


def test_in_flight_bound_turns_excess_into_client_overload(fake_server: Any, golden: Any) -> None:
    fake_server.stall(time.time() + 0.2, 1.0)
    result = run_load(
        constant(100, 1.5, max_in_flight=10, deadline_ms=3000),
        fixed_upstream(fake_server.address),
        golden=golden,
    )
    totals = result.output.totals
    assert totals.overload > 50
    assert totals.by_status[CLIENT_OVERLOAD] == totals.overload
    assert totals.sent == 150 == totals.ok + totals.wrong + totals.failed
    assert fake_server.received == 150 - totals.overload


def test_no_ready_endpoint_fails_as_unavailable_at_once(golden: Any) -> None:
    result = run_load(constant(100, 0.3), lambda: Upstream(()), golden=golden)
    totals = result.output.totals
    assert totals.by_status == {"UNAVAILABLE": 30}
    assert totals.no_upstream == 30


def test_endpoints_are_refreshed_while_running(
    fake_server: Any, second_server: Any, golden: Any
) -> None:
    a, b = fake_server.address, second_server.address
    began = time.monotonic()
    a_received_at_2s: list[int] = []

    def endpoints() -> Upstream:
        elapsed = time.monotonic() - began
        if elapsed < 0.3:
            return Upstream((a,))
        return Upstream((a, b)) if elapsed < 1.2 else Upstream((b,))

    def watch(progress: Progress) -> None:
        if progress.elapsed_s == 2:
            a_received_at_2s.append(fake_server.received)

    result = run_load(constant(100, 3), endpoints, golden=golden, on_tick=watch)
    assert result.output.totals.ok == 300
    assert second_server.received > 50  # added mid-run, got traffic
    assert fake_server.received == a_received_at_2s[0]  # removed, got nothing after
    assert result.to_dict()["upstream"]["addresses_seen"] == sorted([a, b])


def test_a_failing_endpoint_source_keeps_the_last_endpoints(fake_server: Any, golden: Any) -> None:
    calls = []

    def endpoints() -> Upstream:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("status file unreadable")
        return Upstream((fake_server.address,))

    result = run_load(constant(50, 1.2), endpoints, golden=golden)
    assert result.output.totals.ok == 60
    assert result.output.refresh_errors >= 1
    assert "status file unreadable" in (result.output.last_refresh_error or "")


def test_stop_event_ends_sending_at_once(fake_server: Any, golden: Any) -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    began = time.monotonic()
    result = run_load(
        constant(50, 30), fixed_upstream(fake_server.address), golden=golden, stop_event=stop
    )
    assert time.monotonic() - began < 5
    assert result.interrupted
    assert 10 <= result.output.totals.sent <= 40
    assert result.to_dict()["totals"]["measured_s"] < 2


def test_mutual_tls_with_a_server_name_override(mtls_server: Any, pki: Any, golden: Any) -> None:
    tls = ClientTls(pki.ca, pki.client_cert, pki.client_key, pki.server_name)
    result = run_load(constant(50, 0.6), fixed_upstream(mtls_server.address, tls), golden=golden)
    assert result.output.totals.ok == 30


def test_mutual_tls_without_a_client_certificate_fails(
    mtls_server: Any, pki: Any, golden: Any
) -> None:
    tls = ClientTls(pki.ca, server_name=pki.server_name)
    result = run_load(constant(50, 0.4), fixed_upstream(mtls_server.address, tls), golden=golden)
    totals = result.output.totals
    assert totals.ok == 0 and totals.by_status["UNAVAILABLE"] == 20
    assert mtls_server.received == 0
