"""The result of a load run: totals, percentiles, the time series, and how to write them.

``result.json`` is versioned (``schema_version``) and carries an environment fingerprint, so a
comparison can refuse results from different machines or library versions. The per-second
time series goes beside it as ``series.parquet`` (``series.csv`` when pyarrow is missing).

Change history of ``schema_version``:

1. first version.

Fields added since, without a version change (readers of version 1 may ignore them):
``totals.retries`` and the series column ``retries`` (extra tries of the route's retry
policy), ``upstream.route`` (that policy, ``null`` when the client retried nothing).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from hdrh.histogram import HdrHistogram

from tfsverify.errors import BadInput
from tfsverify.load.engine import EngineOutput
from tfsverify.load.profiles import Profile
from tfsverify.load.recorder import SIGNIFICANT_DIGITS, IntervalStats, percentiles_ms
from tfsverify.targets.base import RoutePolicy

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
SERIES_COLUMNS = (
    "index",
    "start_unix",
    "warmup",
    "sent",
    "ok",
    "wrong",
    "failed",
    "overload",
    "no_upstream",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "retries",
)


def environment() -> dict[str, Any]:
    """What the numbers depend on besides the server: interpreter, grpc, machine."""
    host = socket.gethostname().encode()
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "grpc": grpc.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "hostname_sha256": hashlib.sha256(host).hexdigest()[:16],
    }


@dataclass(frozen=True)
class LoadResult:
    """What a run measured. ``totals`` and ``latency`` exclude the warm-up; ``series`` does not."""

    profile: Profile
    mode: str  # "mesh" (endpoints from a target) or "address"
    workers: int
    output: EngineOutput
    environment: dict[str, Any]

    @property
    def latency(self) -> HdrHistogram:
        """The measured latencies (µs, from intended send time) of answered requests."""
        return HdrHistogram.decode(self.output.latency)

    @property
    def series(self) -> list[IntervalStats]:
        return self.output.series

    @property
    def interrupted(self) -> bool:
        return self.output.interrupted

    @property
    def measured_s(self) -> float:
        """Seconds of measured load: the planned duration, or less if the run was stopped."""
        ran = self.output.sent_until_unix - self.output.start_unix - self.profile.warmup_s
        return max(0.0, min(self.profile.duration_s, ran))

    def percentiles_ms(self) -> dict[str, float | None]:
        """p50/p90/p99/p99.9/max/mean of the measured latencies, in ms."""
        return percentiles_ms(self.latency, mean=True)

    def to_dict(self, include_series: bool = False) -> dict[str, Any]:
        out = self.output
        totals = out.totals
        measured = self.measured_s
        doc: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": "tfsverify.load",
            "started_unix": out.start_unix,
            "sent_until_unix": out.sent_until_unix,
            "ended_unix": out.end_unix,
            "interrupted": out.interrupted,
            "environment": self.environment,
            "profile": self.profile.to_dict(),
            "client": {"mode": self.mode, "workers": self.workers},
            "totals": {
                "sent": totals.sent,
                "ok": totals.ok,
                "wrong": totals.wrong,
                "failed": totals.failed,
                "overload": totals.overload,
                "no_upstream": totals.no_upstream,
                "retries": totals.retries,
                "measured_s": measured,
                "offered_rps": totals.sent / measured if measured else None,
                "ok_rps": totals.ok / measured if measured else None,
                "availability": totals.ok / totals.sent if totals.sent else None,
            },
            "status_counts": {"OK": totals.ok + totals.wrong, **dict(totals.by_status)},
            "latency_ms": {
                "count": self.latency.get_total_count(),
                **self.percentiles_ms(),
                "measured_from": "intended send time",
                "includes": "answered requests (status OK, right or wrong)",
                "precision": f"HdrHistogram, 1 us unit, {SIGNIFICANT_DIGITS} significant digits",
                "warmup_excluded_s": self.profile.warmup_s,
                "hdr": out.latency.decode("ascii"),
            },
            "send_lag_ms": percentiles_ms(HdrHistogram.decode(out.send_lag), mean=True),
            "upstream": {
                "addresses_seen": sorted(out.addresses_seen),
                "sent_by_address": dict(out.sent_by_address),
                "refresh_errors": out.refresh_errors,
                "last_refresh_error": out.last_refresh_error,
                "route": _route_doc(out.route),
            },
        }
        if include_series:
            doc["series"] = [_series_row(row) for row in self.series]
        return doc

    def to_json(self, include_series: bool = False) -> str:
        return json.dumps(self.to_dict(include_series), indent=2, sort_keys=False)

    def series_frame(self) -> pd.DataFrame:
        """The time series as a DataFrame: one row per second, one column per failure status."""
        import pandas as pd

        statuses = sorted({status for row in self.series for status in row.failed_by_status})
        rows = []
        for interval in self.series:
            row = _series_row(interval)
            by_status = row.pop("failed_by_status")
            row.update({f"failed_{s}": by_status.get(s, 0) for s in statuses})
            rows.append(row)
        columns = [*SERIES_COLUMNS, *(f"failed_{s}" for s in statuses)]
        return pd.DataFrame(rows, columns=columns)

    def write(self, directory: str | Path) -> list[Path]:
        """Write ``result.json`` and the series (parquet, else CSV) into ``directory``."""
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            result_path = directory / "result.json"
            result_path.write_text(self.to_json() + "\n", encoding="utf-8")
            frame = self.series_frame()
            try:
                series_path = directory / "series.parquet"
                frame.to_parquet(series_path, index=False)
            except ImportError:
                series_path = directory / "series.csv"
                frame.to_csv(series_path, index=False)
        except OSError as exc:
            raise BadInput(f"cannot write results to {directory}: {exc.strerror}") from exc
        return [result_path, series_path]


def _route_doc(route: RoutePolicy | None) -> dict[str, Any] | None:
    """The retry policy the client applied, in JSON (``None``: it retried nothing)."""
    if route is None:
        return None
    doc = asdict(route)
    doc["retry_on"] = sorted(route.retry_on)
    doc["retries"] = route.retries
    return doc


def _series_row(row: IntervalStats) -> dict[str, Any]:
    data = asdict(row)
    data.pop("histogram")
    return data
