"""Benchmark of the tfsverify load engine against Locust's gRPC user (run by ``nox -s perf``).

    python benchmarks/load_engine.py [--quick] [--out FILE]

Three measurements, each against the same fake PredictionService running in its own
process (golden answers, optional stall schedule), with each client in its own process:

a. client CPU per request: this engine vs Locust (``scenarios/locustfile.py``, users of 20
   requests/s each) at the same offered rates, as the ratio engine/Locust; start-up and
   ramp-up CPU cancel out between a long and a short run of each client at the same rate;
b. fidelity: the server stalls ``stall_s`` every ``every_s`` seconds; the ground truth is
   what an open-loop population arriving at the offered rate would see, computed from the
   stall schedule; reported are each client's p99/p99.9 and their relative errors;
c. rate: with a server that keeps up, the rate the *server* observed vs the offered rate.

Not a unit test: numbers depend on the machine. Prints a JSON report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATS_METHOD = "/bench.Stats/Get"


# -- the server (its own process) ------------------------------------------------------


def serve(every_s: float, stall_s: float, epoch: float) -> None:
    """A PredictionService answering golden scores; stalls ``stall_s`` every ``every_s``."""
    import grpc
    import numpy as np

    from tfsverify.serving.golden import load_golden
    from tfsverify.serving.protos import predict_pb2
    from tfsverify.serving.requests import tensor_array, tensor_proto

    golden = load_golden()
    scores = {row.tobytes(): s for row, s in zip(golden.inputs, golden.scores, strict=True)}
    lock = threading.Lock()
    seen: dict[str, Any] = {"count": 0, "first": None, "last": None}

    def predict(request: Any, context: Any) -> Any:
        now = time.time()
        with lock:
            seen["count"] += 1
            seen["first"] = seen["first"] or now
            seen["last"] = now
        if every_s > 0:
            phase = (now - epoch) % every_s
            if phase < stall_s:
                time.sleep(stall_s - phase)
        rows = tensor_array(request.inputs["features"])
        out = np.array([scores.get(r.tobytes(), np.nan) for r in rows], np.float32)
        response = predict_pb2.PredictResponse()
        response.outputs["score"].CopyFrom(tensor_proto(out))
        return response

    def stats(request: bytes, context: Any) -> bytes:
        with lock:
            data = json.dumps(seen).encode()
            seen.update(count=0, first=None, last=None)
        return data

    server = grpc.server(ThreadPoolExecutor(max_workers=64), options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.PredictionService",
                {
                    "Predict": grpc.unary_unary_rpc_method_handler(
                        predict,
                        request_deserializer=predict_pb2.PredictRequest.FromString,
                        response_serializer=predict_pb2.PredictResponse.SerializeToString,
                    )
                },
            ),
            grpc.method_handlers_generic_handler(
                "bench.Stats", {"Get": grpc.unary_unary_rpc_method_handler(stats)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"127.0.0.1:{port}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop(grace=0).wait(5)


class Server:
    def __init__(self, every_s: float = 0.0, stall_s: float = 0.0) -> None:
        self.epoch = time.time()
        self.every_s, self.stall_s = every_s, stall_s
        args = [sys.executable, __file__, "serve", str(every_s), str(stall_s), str(self.epoch)]
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.address = self.process.stdout.readline().strip()

    def stats(self) -> dict[str, Any]:
        import grpc

        with grpc.insecure_channel(self.address) as channel:
            raw = channel.unary_unary(STATS_METHOD)(b"", timeout=5)
        data: dict[str, Any] = json.loads(raw)
        return data

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_s(self, due_unix: float) -> float:
        """Seconds a request arriving at ``due_unix`` waits for the stall to end."""
        if self.every_s <= 0:
            return 0.0
        phase = (due_unix - self.epoch) % self.every_s
        return self.stall_s - phase if phase < self.stall_s else 0.0


# -- the clients (their own processes), timed with wait4 -----------------------------------


def run_child(args: list[str], timeout_s: float) -> tuple[str, float]:
    """Run a child to its end; returns its stdout and its CPU seconds (user + system)."""
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                raise RuntimeError(f"{args[:4]} ran past {timeout_s} s")
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return out.read(), usage.ru_utime + usage.ru_stime


def profile_file(directory: Path, rate: float, seconds: float, deadline_ms: float) -> Path:
    path = directory / f"p-{rate}-{seconds}.yaml"
    path.write_text(
        f"kind: constant\nrate_rps: {rate}\nduration_s: {seconds}\ndeadline_ms: {deadline_ms}\n"
    )
    return path


def engine(address: str, profile: Path) -> tuple[dict[str, Any], float]:
    code = (
        "import argparse, sys; from tfsverify.load import command;"
        "p = argparse.ArgumentParser(); command.add_arguments(p);"
        "sys.exit(command.run(p.parse_args(sys.argv[1:]), None))"
    )
    args = [sys.executable, "-c", code, "--profile", str(profile), "--address", address, "--json"]
    out, cpu = run_child(args, 300)
    return json.loads(out), cpu


def locust(address: str, profile: Path, per_user_rps: float) -> tuple[dict[str, Any], float]:
    args = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "scenarios" / "locustfile.py"),
        "--headless",
        "--host",
        address,
        "--tfsverify-profile",
        str(profile),
        "--tfsverify-per-user-rps",
        str(per_user_rps),
        "--json",
        "--loglevel",
        "ERROR",
    ]
    out, cpu = run_child(args, 300)
    (stats,) = json.loads(out)
    return stats, cpu


def locust_percentile_ms(stats: dict[str, Any], percent: float) -> float:
    """Locust's own rule (stats.calculate_response_time_percentile) over its buckets."""
    times = {int(k): v for k, v in stats["response_times"].items()}
    total = sum(times.values())
    wanted = int(total * percent)
    seen = 0
    for value in sorted(times, reverse=True):
        seen += times[value]
        if total - seen <= wanted:
            return float(value)
    return 0.0


def truth_ms(
    server: Server, start: float, end: float, rate: float, service_ms: float
) -> list[float]:
    count = int((end - start) * rate)
    return sorted(server.wait_s(start + i / rate) * 1000 + service_ms for i in range(count))


def pick(values: list[float], percent: float) -> float:
    return values[min(len(values) - 1, max(0, math.ceil(percent * len(values)) - 1))]


# -- the three measurements -------------------------------------------------------------


def cpu_per_request(work: Path, rate: float, seconds: float, per_user: float) -> dict[str, Any]:
    """Marginal client CPU per request of each client at ``rate``, and their ratio.

    Each client runs twice at the same rate, for ``seconds`` and for a quarter of it (at
    least 2 s); the CPU per request is the difference of the two runs' CPU (user + system,
    of the client process and every process it waited for: the engine's workers) over the
    difference of their request counts. Start-up, connecting, Locust's per-user set-up,
    ramp-up and the end-of-run report cancel out, so both clients are charged for the same
    thing: sending at ``rate``, checking every answer, keeping their statistics.
    """
    short_s = max(2.0, seconds / 4)
    server = Server()
    try:
        short = profile_file(work, rate, short_s, 1000)
        long = profile_file(work, rate, seconds, 1000)
        engine_short, cpu_engine_short = engine(server.address, short)
        locust_short, cpu_locust_short = locust(server.address, short, per_user)
        doc, cpu_engine = engine(server.address, long)
        stats, cpu_locust = locust(server.address, long, per_user)
    finally:
        server.close()
    engine_requests = doc["totals"]["sent"] - engine_short["totals"]["sent"]
    locust_requests = stats["num_requests"] - locust_short["num_requests"]
    engine_us = (cpu_engine - cpu_engine_short) / engine_requests * 1e6
    locust_us = (cpu_locust - cpu_locust_short) / locust_requests * 1e6
    return {
        "offered_rps": rate,
        "seconds": seconds,
        "baseline_seconds": short_s,
        "engine": {
            "requests": doc["totals"]["sent"],
            "wrong": doc["totals"]["wrong"],
            "failed": doc["totals"]["failed"],
            "cpu_us_per_request": round(engine_us, 1),
        },
        "locust": {
            "requests": stats["num_requests"],
            "failed": stats["num_failures"],
            "users": math.ceil(rate / per_user),
            "cpu_us_per_request": round(locust_us, 1),
        },
        "engine_over_locust": round(engine_us / locust_us, 3),
        "locust_over_engine": round(locust_us / engine_us, 2),
    }


def fidelity(
    work: Path, rate: float, seconds: float, every_s: float, stall_s: float, per_user: float
) -> dict[str, Any]:
    server = Server(every_s, stall_s)
    profile = profile_file(work, rate, seconds, 5000)
    try:
        doc, _ = engine(server.address, profile)
        stats, _ = locust(server.address, profile, per_user)
    finally:
        server.close()
    start = doc["started_unix"]
    engine_truth = truth_ms(server, start, start + seconds, rate, 1.0)
    locust_truth = truth_ms(server, stats["start_time"], stats["last_request_timestamp"], rate, 1.0)
    report: dict[str, Any] = {
        "offered_rps": rate,
        "seconds": seconds,
        "stall": f"{stall_s} s every {every_s} s",
        "locust_users": math.ceil(rate / per_user),
    }
    for key, percent in (("p99", 0.99), ("p99_9", 0.999)):
        engine_true, locust_true = pick(engine_truth, percent), pick(locust_truth, percent)
        engine_got = doc["latency_ms"][key]
        locust_got = locust_percentile_ms(stats, percent)
        report[key] = {
            "truth_ms": round(engine_true, 1),
            "engine_ms": engine_got,
            "engine_error": round((engine_got - engine_true) / engine_true, 3),
            "locust_truth_ms": round(locust_true, 1),
            "locust_ms": locust_got,
            "locust_error": round((locust_got - locust_true) / locust_true, 3),
        }
    report["requests"] = {
        "engine": doc["totals"]["sent"],
        "locust": stats["num_requests"],
        "open_loop_truth": len(engine_truth),
    }
    return report


def offered_rate(work: Path, rate: float, seconds: float) -> dict[str, Any]:
    server = Server()
    try:
        server.stats()  # reset
        doc, _ = engine(server.address, profile_file(work, rate, seconds, 1000))
        seen = server.stats()
    finally:
        server.close()
    observed = (seen["count"] - 1) / (seen["last"] - seen["first"])
    return {
        "offered_rps": rate,
        "seconds": seconds,
        "server_observed_rps": round(observed, 2),
        "error": round((observed - rate) / rate, 4),
        "within_1pct": abs(observed - rate) / rate <= 0.01,
        "send_lag_ms_p99": doc["send_lag_ms"]["p99"],
        "client_overload": doc["totals"]["overload"],
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args()
    scale = 0.5 if args.quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report = {
            "cpu": [
                cpu_per_request(work, rate=rate, seconds=15 * scale, per_user=20)
                for rate in (400, 800)
            ],
            "fidelity": fidelity(
                work, rate=100, seconds=30 * scale, every_s=10, stall_s=1.0, per_user=20
            ),
            "rate": offered_rate(work, rate=500, seconds=10 * scale),
            "machine": {"cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
        }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
