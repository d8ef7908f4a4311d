"""The Prometheus metrics of TF Serving, with TF Serving's exact names and labels.

TF Serving exports TensorFlow monitoring metrics with every character outside
``[a-zA-Z0-9_]`` turned into ``:``, so ``/tensorflow/serving/request_count`` is
``:tensorflow:serving:request_count`` (no ``_total`` suffix). Modelled here:

* ``:tensorflow:serving:request_count{model_name,status}``: counter, one per Predict
  (gRPC or REST), ``status`` being the canonical code name (``OK``, ``NOT_FOUND``, ...).
* ``:tensorflow:serving:request_latency{model_name,API,entrypoint}``: histogram in
  MICROSECONDS of successful requests (``API="Predict"``, ``entrypoint`` ``GRPC`` or
  ``REST``); TensorFlow's exponential buckets ``10 * 1.8**i``, i = 0..32.
* ``:tensorflow:cc:saved_model:load_attempt_count{model_path,status}``: counter of
  SavedModel loads, ``status`` ``success`` or ``fail``, ``model_path`` the version directory.

The text format is written here (Prometheus exposition format 0.0.4).
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
LOAD_ATTEMPT_COUNT = ":tensorflow:cc:saved_model:load_attempt_count"
LATENCY_BUCKETS_US = tuple(10.0 * 1.8**i for i in range(33))
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS_US) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0


class ServingMetrics:
    """Thread-safe counters and histograms of one model server process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = defaultdict(int)
        self._latency: dict[tuple[str, str, str], _Histogram] = defaultdict(_Histogram)
        self._loads: dict[tuple[str, str], int] = defaultdict(int)

    def count_request(self, model_name: str, status: str) -> None:
        with self._lock:
            self._requests[(model_name, status)] += 1

    def observe_latency(
        self, model_name: str, api: str, entrypoint: str, latency_us: float
    ) -> None:
        index = bisect.bisect_left(LATENCY_BUCKETS_US, latency_us)
        with self._lock:
            hist = self._latency[(model_name, api, entrypoint)]
            hist.buckets[index] += 1
            hist.count += 1
            hist.sum += latency_us

    def count_load(self, model_path: str, ok: bool) -> None:
        with self._lock:
            self._loads[(model_path, "success" if ok else "fail")] += 1

    def request_count(self, model_name: str, status: str) -> int:
        with self._lock:
            return self._requests.get((model_name, status), 0)

    def render(self) -> str:
        """All metrics in the Prometheus text format."""
        lines: list[str] = []
        with self._lock:
            lines.append(f"# TYPE {LOAD_ATTEMPT_COUNT} counter")
            for (path, status), n in sorted(self._loads.items()):
                lines.append(f"{LOAD_ATTEMPT_COUNT}{_labels(model_path=path, status=status)} {n}")
            lines.append(f"# TYPE {REQUEST_COUNT} counter")
            for (model, status), n in sorted(self._requests.items()):
                lines.append(f"{REQUEST_COUNT}{_labels(model_name=model, status=status)} {n}")
            lines.append(f"# TYPE {REQUEST_LATENCY} histogram")
            for (model, api, entry), hist in sorted(self._latency.items()):
                base = {"model_name": model, "API": api, "entrypoint": entry}
                cumulative = 0
                for bound, n in zip((*LATENCY_BUCKETS_US, None), hist.buckets, strict=True):
                    cumulative += n
                    le = "+Inf" if bound is None else f"{bound:.10g}"
                    lines.append(f"{REQUEST_LATENCY}_bucket{_labels(**base, le=le)} {cumulative}")
                lines.append(f"{REQUEST_LATENCY}_sum{_labels(**base)} {hist.sum:.17g}")
                lines.append(f"{REQUEST_LATENCY}_count{_labels(**base)} {hist.count}")
        return "\n".join(lines) + "\n"


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"
