"""Running a whole plan against a target and gathering the results document.

The parts run in the plan's order (sweep, ramp, spike, soak, mesh overhead), then the
load-engine benchmark. Their sections, samples and metrics are gathered into one
``perf.json`` document (:mod:`tfsverify.perf.document`), with warnings for anything the
reader must know: wrong answers, failed requests below the knee, a skipped benchmark.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from typing import Any

from tfsverify.load.payloads import AnswerKey
from tfsverify.perf import parts
from tfsverify.perf.document import build_document, fingerprint
from tfsverify.perf.engine_bench import run_engine_benchmark
from tfsverify.perf.mesh_overhead import run_mesh
from tfsverify.perf.plan import Plan
from tfsverify.perf.progress import ProgressLine
from tfsverify.targets.base import TlsMaterial

RUNNERS = {"sweep": parts.run_sweep, "ramp": parts.run_ramp, "spike": parts.run_spike,
           "soak": parts.run_soak}
PART_NAMES = ("sweep", "ramp", "spike", "soak", "mesh", "engine_benchmark")


def run_plan(
    plan: Plan,
    target: parts.PerfTarget,
    golden: AnswerKey,
    progress: ProgressLine,
    *,
    run_id: str,
    tls: TlsMaterial,
    target_info: dict[str, Any],
    only: Collection[str] | None = None,
    stop: threading.Event | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run ``plan`` (or only the named parts of it) and return the results document."""
    started = time.time()
    ctx = parts.RunContext(plan, target, golden, progress, stop or threading.Event(), seed)
    sections: dict[str, Any] = {}
    samples: dict[str, Any] = {}
    metrics: list[dict[str, Any]] = []
    for name, part in plan.parts().items():
        if only is not None and name not in only:
            continue
        outcome = run_mesh(ctx, part, tls) if name == "mesh" else RUNNERS[name](ctx, part)
        sections[name] = outcome.section
        samples.update(outcome.samples)
        metrics += outcome.metrics
    bench = None
    if plan.engine_benchmark is not None and (only is None or "engine_benchmark" in only):
        progress.begin("load-engine benchmark (engine vs Locust)")
        bench = run_engine_benchmark(plan.engine_benchmark)
        progress.end(bench["status"] + (f": {bench['reason']}" if "reason" in bench else ""))
    return build_document(
        run_id=run_id, started_unix=started, ended_unix=time.time(),
        environment=fingerprint(str(target_info.get("kind", "local"))), target=target_info,
        plan=plan.to_dict(), parts=sections, samples=samples, metrics=metrics,
        engine_benchmark=bench, warnings=warnings_of(sections, bench),
    )


def warnings_of(sections: dict[str, Any], bench: dict[str, Any] | None) -> list[str]:
    """What the reader must know before trusting the numbers."""
    out = []
    for step in sections.get("sweep", {}).get("steps", []):
        pooled = step["pooled"]
        if pooled["wrong"]:
            out.append(f"sweep {step['rate_rps']:g} rps: {pooled['wrong']} wrong answers")
        if not step["saturated"] and pooled["failed"]:
            out.append(f"sweep {step['rate_rps']:g} rps: {pooled['failed']} failed requests "
                       "below the knee")
    for record in sections.get("mesh", {}).get("records", []):
        for way in ("direct", "sidecar"):
            if record[way]["ok"] < record[way]["sent"]:
                lost = record[way]["sent"] - record[way]["ok"]
                out.append(f"mesh {record['pod']} {way}: {lost} requests not answered right")
    if bench is not None and bench.get("status") != "ok":
        out.append(f"load-engine benchmark {bench.get('status')}: {bench.get('reason')}")
    return out
