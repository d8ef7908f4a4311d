"""The load-engine benchmark (``benchmarks/load_engine.py``) as a section of the report.

The benchmark compares this project's load engine with Locust's gRPC user against a fake
PredictionService, each client in its own process: client CPU per request at the same
offered rates, and coordinated-omission fidelity (p99/p99.9 against the open-loop truth
when the server stalls periodically). It is run with the plan's (shorter or longer)
settings by calling its functions; it starts its own processes and needs Locust. When it
cannot run (no checkout with ``benchmarks/``, Locust not installed, a client failing), the
section says why and the report goes on: it measures the client, not the release.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from tfsverify.perf.plan import EngineBenchmarkPlan

BENCHMARK = Path("benchmarks") / "load_engine.py"


def find_benchmark() -> Path | None:
    """The benchmark of the checkout we run from, else of the checkout we are installed from."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (root / BENCHMARK).is_file():
            return root / BENCHMARK
    return None


def run_engine_benchmark(settings: EngineBenchmarkPlan) -> dict[str, Any]:
    """Run the benchmark; returns its report with ``status`` ``ok``, or ``skipped``/``failed``."""
    path = find_benchmark()
    if path is None:
        return {"status": "skipped", "reason": f"{BENCHMARK} not found (not a source checkout)"}
    if importlib.util.find_spec("locust") is None:
        return {"status": "skipped",
                "reason": "Locust is not installed (pip install 'tfsverify[locust]')"}
    started = time.monotonic()
    try:
        bench = _load(path)
        with tempfile.TemporaryDirectory(prefix="tfsverify-bench-") as tmp:
            work = Path(tmp)
            cpu = [bench.cpu_per_request(work, rate=rate, seconds=settings.cpu_seconds,
                                         per_user=settings.per_user_rps)
                   for rate in settings.cpu_rates_rps]
            fidelity = bench.fidelity(work, rate=settings.fidelity_rate_rps,
                                      seconds=settings.fidelity_seconds,
                                      every_s=settings.stall_every_s, stall_s=settings.stall_s,
                                      per_user=settings.per_user_rps)
            rate = (bench.offered_rate(work, rate=settings.rate_check_rps,
                                       seconds=settings.rate_check_seconds)
                    if settings.rate_check_rps else None)
    except Exception as exc:  # a third-party tool in child processes: report, do not crash
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:300],
                "duration_s": time.monotonic() - started}
    return {
        "status": "ok",
        "source": str(path),
        "settings": settings.__dict__,
        "duration_s": time.monotonic() - started,
        "cpu": cpu,
        "fidelity": fidelity,
        "rate": rate,
        "machine": {"cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
    }


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("tfsverify_bench_load_engine", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
