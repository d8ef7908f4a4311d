"""What the mesh costs: the same load with and without the sidecar, as Istio reports it.

For each measured pod and repetition the same constant-rate profile is sent twice from
this process, one way after the other (ABBA order across repetitions, so a drift of the
machine does not fall on one way only):

* **direct**: to the model server's own address (``app_address``, the pod's localhost),
  in plaintext: no sidecar, no TLS;
* **sidecar**: to the pod's address through its sidecar, with the mesh client identity
  (mutual TLS, authorization by principal), as every meshed client calls it.

Reported: the added latency per percentile (sidecar minus direct, with a bootstrap
confidence interval over repetitions and seconds), and CPU per request, from the CPU time
(user + system) of three processes over the whole run, warm-up included, divided by the
requests sent in it: the load client (this process: the client side of TLS is part of the
mesh's cost), the pod's sidecar and its model server. The added CPU per request is the
client's extra CPU on the sidecar way plus the sidecar's CPU (its CPU on the direct way,
idle but for probes, is subtracted). Istio states the same as vCPU per 1000 requests/s,
which is the added CPU per request in µs divided by 1000.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfsverify.errors import TargetError
from tfsverify.load import ClientTls, fixed_upstream
from tfsverify.perf.measure import CpuMeter
from tfsverify.perf.metrics import (
    LATENCY_KEYS,
    latency_delta_metric,
    latency_metrics,
    scalar_metric,
)
from tfsverify.perf.parts import PartOutcome, RunContext, run_one
from tfsverify.perf.plan import Part
from tfsverify.perf.samples import (
    decode_sample,
    measured_seconds,
    merge,
    pooled_summary_ms,
    summary_ms,
)
from tfsverify.perf.stats import compare_latency
from tfsverify.targets.base import TlsMaterial

WAYS = ("direct", "sidecar")
SIDECAR, SERVER = "istio-proxy", "tensorflow-serving"


def measured_pods(status: dict[str, Any], count: int | None) -> list[dict[str, Any]]:
    """The ready pods to measure, by name, with both addresses and both containers' pids."""
    pods = []
    for pod in sorted(status.get("pods", []), key=lambda p: p["name"]):
        pids = {c["name"]: c.get("pid") for c in pod.get("containers", [])}
        if pod.get("ready") and pod.get("app_address") and pids.get(SIDECAR) and pids.get(SERVER):
            pods.append({"name": pod["name"], "address": pod["address"],
                         "app_address": pod["app_address"],
                         "sidecar_pid": pids[SIDECAR], "server_pid": pids[SERVER]})
    if not pods:
        raise TargetError("no ready pod publishes app_address and container pids: "
                          "the mesh overhead needs the local target")
    return pods if count is None else pods[:count]


def run_mesh(ctx: RunContext, part: Part, tls: TlsMaterial) -> PartOutcome:
    profile = part.profile
    client_tls = ClientTls.from_material(tls)
    pods = measured_pods(ctx.target.status(), part.pods)
    reps = part.repetitions
    records: list[dict[str, Any]] = []
    samples: dict[str, list[list[str]]] = {"mesh/direct": [], "mesh/sidecar": []}
    for number, pod in enumerate(pods):
        for rep in range(reps):
            order = WAYS if rep % 2 == 0 else WAYS[::-1]
            record: dict[str, Any] = {"pod": pod["name"], "repetition": rep, "order": list(order)}
            for way in order:
                address, way_tls = ((pod["app_address"], None) if way == "direct"
                                    else (pod["address"], client_tls))
                meter = CpuMeter({"client": None, "sidecar": pod["sidecar_pid"],
                                  "server": pod["server_pid"]})
                meter.start()
                result = run_one(ctx, f"mesh pod {number + 1}/{len(pods)} rep {rep + 1}/{reps} "
                                 f"{way}", profile, ctx.seed + rep,
                                 source=fixed_upstream(address, way_tls), mode="address")
                cpu_s = meter.stop()
                sent = sum(row.sent for row in result.series)
                seconds = measured_seconds(result.series)
                samples[f"mesh/{way}"].append(seconds)
                record[way] = {
                    "address": address, "sent": sent,
                    "ok": sum(row.ok for row in result.series),
                    "latency_ms": summary_ms(merge(seconds)),
                    "cpu_us_per_request": {k: v / sent * 1e6 for k, v in cpu_s.items()},
                }
            records.append(_added(record))
    return PartOutcome(_section(ctx, part, pods, records, samples), samples,
                       _metrics(records, samples))


def _added(record: dict[str, Any]) -> dict[str, Any]:
    direct, sidecar = record["direct"], record["sidecar"]
    added = {}
    for key in LATENCY_KEYS:
        d, s = direct["latency_ms"][key], sidecar["latency_ms"][key]
        added[f"{key}_ms"] = None if d is None or s is None else s - d
    dc, sc = direct["cpu_us_per_request"], sidecar["cpu_us_per_request"]
    added["cpu_us_per_request"] = (sc["client"] - dc["client"]) + (sc["sidecar"] - dc["sidecar"])
    return {**record, "added": added}


def _section(ctx: RunContext, part: Part, pods: list[dict[str, Any]],
             records: list[dict[str, Any]], samples: dict[str, list[list[str]]]) -> dict[str, Any]:
    rng = np.random.default_rng(ctx.seed)
    added_ci = {}
    for key, q in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0)):
        estimate = compare_latency(decode_sample(samples["mesh/direct"]),
                                   decode_sample(samples["mesh/sidecar"]), q,
                                   resamples=1000, permutations=1000, confidence=0.95,
                                   rng=rng)
        added_ci[f"{key}_ms"] = {"value": estimate.difference,
                                 "ci95": list(estimate.difference_ci)}
    cpu = {way: {name: _mean([r[way]["cpu_us_per_request"][name] for r in records])
                 for name in ("client", "sidecar", "server")} for way in WAYS}
    added_cpu = _mean([r["added"]["cpu_us_per_request"] for r in records])
    return {
        "rate_rps": part.profile.peak_rps,
        "measured_s": part.profile.duration_s,
        "warmup_s": part.profile.warmup_s,
        "pods": [{k: p[k] for k in ("name", "address", "app_address")} for p in pods],
        "records": records,
        "latency_ms": {way: pooled_summary_ms(samples[f"mesh/{way}"]) for way in WAYS},
        "added_ms": added_ci,
        "cpu_us_per_request": cpu,
        "added_cpu_us_per_request": added_cpu,
        "added_vcpu_per_1000_rps": added_cpu / 1000,
        "method": __doc__,
    }


def _metrics(records: list[dict[str, Any]], samples: dict[str, list[list[str]]]
             ) -> list[dict[str, Any]]:
    metrics = [*latency_metrics("mesh.direct", "direct to the model server", samples,
                                "mesh/direct"),
               *latency_metrics("mesh.sidecar", "through the sidecar (mTLS)", samples,
                                "mesh/sidecar")]
    for key in LATENCY_KEYS:
        metrics.append(latency_delta_metric(f"mesh.added_{key}_ms",
                                            f"latency the sidecar adds at {key}", samples,
                                            "mesh/sidecar", "mesh/direct", key))
    metrics += [
        scalar_metric("mesh.added_cpu_us_per_request", "CPU the mesh adds per request "
                      "(client TLS + sidecar)", "us", [r["added"]["cpu_us_per_request"]
                                                       for r in records]),
        scalar_metric("mesh.sidecar_cpu_us_per_request", "sidecar CPU per request", "us",
                      [r["sidecar"]["cpu_us_per_request"]["sidecar"] for r in records]),
        scalar_metric("mesh.server_cpu_us_per_request", "model server CPU per request", "us",
                      [r["direct"]["cpu_us_per_request"]["server"] for r in records]),
    ]
    return metrics


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")
