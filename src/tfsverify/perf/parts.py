"""The load parts of a plan: sweep, ramp, spike and soak, run through the mesh.

Each part runs its profile ``repetitions`` times against the target's ready endpoints (as a
meshed client: mTLS, balancing per request), excludes the warm-up, and returns a
:class:`PartOutcome`: the part's section of the results document, its latency samples and
its metrics. What the sections hold is documented in :mod:`tfsverify.perf.document`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from tfsverify.load import IntervalStats, LoadResult, Profile
from tfsverify.load.mesh import EndpointSource
from tfsverify.load.payloads import AnswerKey
from tfsverify.perf import analysis
from tfsverify.perf.measure import MemorySampler, run_measured
from tfsverify.perf.metrics import latency_metric, latency_metrics, scalar_metric
from tfsverify.perf.plan import Part, Plan
from tfsverify.perf.progress import ProgressLine
from tfsverify.perf.samples import measured_seconds, merge, pooled_summary_ms, summary_ms
from tfsverify.targets.base import Endpoint


class PerfTarget(Protocol):
    """What the report needs of a target: its endpoints and its published status."""

    def endpoint(self) -> Endpoint: ...
    def status(self) -> dict[str, Any]: ...


@dataclass
class RunContext:
    plan: Plan
    target: PerfTarget
    golden: AnswerKey
    progress: ProgressLine
    stop: threading.Event = field(default_factory=threading.Event)
    seed: int = 0


@dataclass
class PartOutcome:
    section: dict[str, Any]
    samples: dict[str, list[list[str]]]
    metrics: list[dict[str, Any]]


def run_one(ctx: RunContext, label: str, profile: Profile, seed: int,
            source: EndpointSource | None = None, mode: str = "mesh") -> LoadResult:
    """One load run with its progress line: the target's endpoints unless ``source``."""
    ctx.progress.begin(label)
    result = run_measured(profile, source or ctx.target.endpoint, ctx.golden,
                          on_tick=ctx.progress.tick, stop_event=ctx.stop, seed=seed, mode=mode)
    totals = result.output.totals
    p99 = result.percentiles_ms()["p99"]
    ctx.progress.end(f"{totals.sent} sent, {totals.ok} ok, {totals.failed} failed, "
                     f"p99 {'n/a' if p99 is None else f'{p99:.1f} ms'}")
    return result


def run_reps(ctx: RunContext, name: str, part: Part) -> list[LoadResult]:
    n = part.repetitions
    return [run_one(ctx, f"{name} rep {rep + 1}/{n}", part.profile, ctx.seed + rep)
            for rep in range(n)]


def window_totals(series: list[IntervalStats], start_s: float, end_s: float) -> dict[str, Any]:
    """Counts of the measured rows in [start_s, end_s) and what they make."""
    rows = [r for r in series if not r.warmup and start_s <= r.index < end_s]
    sent = sum(r.sent for r in rows)
    ok = sum(r.ok for r in rows)
    failed: dict[str, int] = {}
    for row in rows:
        for status, count in row.failed_by_status.items():
            failed[status] = failed.get(status, 0) + count
    seconds = max(1e-9, end_s - start_s)
    return {
        "sent": sent, "ok": ok, "wrong": sum(r.wrong for r in rows),
        "failed": sum(r.failed for r in rows), "failed_by_status": failed,
        "offered_rps": sent / seconds, "ok_rps": ok / seconds,
        "availability": ok / sent if sent else None,
    }


def rows_of(result: LoadResult) -> list[analysis.Row]:
    rows = []
    for r in result.series:
        if not r.warmup:
            hdr = measured_seconds([r])
            rows.append(analysis.Row(r.index, r.sent, r.ok, r.failed, hdr[0] if hdr else None))
    return rows


def run_sweep(ctx: RunContext, part: Part) -> PartOutcome:
    plan, profile = ctx.plan, part.profile
    results = run_reps(ctx, "sweep", part)
    samples: dict[str, list[list[str]]] = {}
    steps: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    start = profile.warmup_s
    for stage in profile.stages:
        low, high = start + part.settle_s, start + stage.duration_s
        start += stage.duration_s
        key = f"sweep/{stage.rate_rps:g}rps"
        samples[key] = [measured_seconds(r.series, low, high) for r in results]
        reps = [{**window_totals(r.series, low, high),
                 "latency_ms": summary_ms(merge(seconds))}
                for r, seconds in zip(results, samples[key], strict=True)]
        pooled = {**_sum_totals(reps, high - low), "latency_ms": pooled_summary_ms(samples[key])}
        p99, availability = pooled["latency_ms"]["p99"], pooled["availability"]
        saturated = p99 is None or p99 > plan.slo_p99_ms or (
            availability is not None and availability < plan.availability_min)
        steps.append({"rate_rps": stage.rate_rps, "measured_s": high - low,
                      "saturated": saturated, "pooled": pooled, "repetitions": reps})
        note = "past the knee: latency is queueing, reported only" if saturated else None
        metrics += latency_metrics(f"sweep.{stage.rate_rps:g}rps", f"sweep {stage.rate_rps:g} rps",
                                   samples, key, gate=not saturated, note=note)
    knees = [
        analysis.sweep_knee(
            [(s["rate_rps"], s["repetitions"][i]["latency_ms"]["p99"],
              s["repetitions"][i]["availability"]) for s in steps],
            plan.slo_p99_ms, plan.availability_min)
        for i in range(len(results))
    ]
    pooled_knee = analysis.sweep_knee(
        [(s["rate_rps"], s["pooled"]["latency_ms"]["p99"], s["pooled"]["availability"])
         for s in steps], plan.slo_p99_ms, plan.availability_min)
    metrics.append(scalar_metric("sweep.knee_rps", "saturation knee (p99 crosses the objective)",
                                 "rps", [knee_value(k) for k in knees], better="higher",
                                 note=_censored_note(knees, "the top step")))
    section = {"slo_p99_ms": plan.slo_p99_ms, "settle_s": part.settle_s, "steps": steps,
               "knee": {**pooled_knee.__dict__, "repetitions": [k.__dict__ for k in knees]}}
    return PartOutcome(section, samples, metrics)


def knee_value(knee: analysis.Knee) -> float | None:
    """The knee, or the top step's rate when none was reached (a lower bound)."""
    if knee.knee_rps is not None:
        return knee.knee_rps
    return knee.last_good_rps if knee.first_breaking_rps is None else None


def _censored_note(knees: list[analysis.Knee], top: str) -> str | None:
    if all(k.knee_rps is not None for k in knees):
        return None
    if any(k.last_good_rps is None for k in knees):
        return "out of the objective at the first step in some repetition: not compared there"
    return f"not reached in some repetition: counted as {top}'s rate (a lower bound)"


def _sum_totals(reps: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    sent, ok = sum(r["sent"] for r in reps), sum(r["ok"] for r in reps)
    span = max(1e-9, seconds * len(reps))
    return {"sent": sent, "ok": ok, "wrong": sum(r["wrong"] for r in reps),
            "failed": sum(r["failed"] for r in reps), "offered_rps": sent / span,
            "ok_rps": ok / span, "availability": ok / sent if sent else None}


def series_rows(result: LoadResult) -> list[dict[str, Any]]:
    """The measured seconds for plots: offset, offered (sent), ok, failed, p50/p99."""
    return [{"offset_s": r.index, "sent": r.sent, "ok": r.ok, "failed": r.failed,
             "p50_ms": r.p50_ms, "p99_ms": r.p99_ms} for r in result.series if not r.warmup]


def run_ramp(ctx: RunContext, part: Part) -> PartOutcome:
    plan = ctx.plan
    results = run_reps(ctx, "ramp", part)
    knees = [analysis.ramp_knee(rows_of(r), part.window_s, plan.slo_p99_ms,
                                plan.availability_min) for r in results]
    peak = part.profile.peak_rps
    samples = {"ramp": [measured_seconds(r.series) for r in results]}
    section = {"window_s": part.window_s,
               "repetitions": [{"knee_rps": k, "series": series_rows(r)}
                               for k, r in zip(knees, results, strict=True)]}
    note = (None if all(k is not None for k in knees) else
            f"never left the objective in some repetition: counted as the peak {peak:g} rps "
            "(a lower bound)")
    metrics = [scalar_metric("ramp.knee_rps", "ramp: offered rate where p99 leaves the objective",
                             "rps", [peak if k is None else k for k in knees], better="higher",
                             note=note)]
    return PartOutcome(section, samples, metrics)


def run_spike(ctx: RunContext, part: Part) -> PartOutcome:
    plan, profile = ctx.plan, part.profile
    doc = profile.document
    start = profile.warmup_s + float(doc.get("before_s", 0.0))
    end = start + float(doc["spike_s"])
    after_s = float(doc.get("after_s", 0.0))
    results = run_reps(ctx, "spike", part)
    samples = {
        "spike/before": [measured_seconds(r.series, 0, start) for r in results],
        "spike/during": [measured_seconds(r.series, start, end) for r in results],
        "spike/after": [measured_seconds(r.series, end) for r in results],
    }
    recoveries = [analysis.recovery_s(rows_of(r), end, part.window_s, plan.slo_p99_ms,
                                      plan.availability_min) for r in results]
    censored = [after_s if value is None else value for value in recoveries]
    section = {
        "spike_start_s": start, "spike_end_s": end, "window_s": part.window_s,
        "repetitions": [
            {"recovery_s": rec, "series": series_rows(r),
             **{f"{phase}_ms": pooled_summary_ms([samples[f"spike/{phase}"][i]])
                for phase in ("before", "during", "after")}}
            for i, (rec, r) in enumerate(zip(recoveries, results, strict=True))
        ],
    }
    note = None if None not in recoveries else (
        f"did not recover before the run ended: counted as {after_s:g} s (a lower bound)")
    metrics = [
        latency_metric("spike.during.p99_ms", "spike: p99 during the spike", samples,
                       "spike/during", "p99", gate=False, note="queueing by design, reported only"),
        latency_metric("spike.after.p99_ms", "spike: p99 after the spike", samples,
                       "spike/after", "p99"),
        scalar_metric("spike.recovery_s", "spike: seconds until p99 is back within the objective",
                      "s", censored, note=note),
    ]
    return PartOutcome(section, samples, metrics)


def container_pids(status: dict[str, Any]) -> dict[str, int]:
    """``pod/container`` -> pid of every running container of the target."""
    return {f"{pod['name']}/{c['name']}": int(c["pid"])
            for pod in status.get("pods", []) for c in pod.get("containers", []) if c.get("pid")}


def run_soak(ctx: RunContext, part: Part) -> PartOutcome:
    results, memories = [], []
    n = part.repetitions
    for rep in range(n):
        with MemorySampler(container_pids(ctx.target.status()), part.sample_s) as sampler:
            results.append(run_one(ctx, f"soak rep {rep + 1}/{n}", part.profile, ctx.seed + rep))
        memories.append(sampler.samples)
    samples = {"soak": [measured_seconds(r.series) for r in results]}
    reps: list[dict[str, Any]] = []
    for result, memory, seconds in zip(results, memories, samples["soak"], strict=True):
        slopes = {name: analysis.slope_per_min([row["offset_s"] for row in memory if name in row],
                                               [row[name] for row in memory if name in row])
                  for name in memory[0] if name != "offset_s"} if memory else {}
        reps.append({"series": series_rows(result), "memory_mb": memory,
                     "rss_mb_per_min": slopes,
                     "p50_drift_pct": analysis.thirds_drift_pct(seconds, "p50"),
                     "p99_drift_pct": analysis.thirds_drift_pct(seconds, "p99")})
    server = [_mean([v for k, v in r["rss_mb_per_min"].items()
                     if v is not None and not k.endswith("/istio-proxy")]) for r in reps]
    metrics = [
        *latency_metrics("soak", "soak", samples, "soak"),
        scalar_metric("soak.p99_drift_pct", "soak: p99 change, first third to last third", "pct",
                      [r["p99_drift_pct"] for r in reps]),
        scalar_metric("soak.server_rss_mb_per_min", "soak: model server memory growth",
                      "MB/min", server),
    ]
    return PartOutcome({"sample_s": part.sample_s, "repetitions": reps}, samples, metrics)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
