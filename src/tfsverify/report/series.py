"""Each experiment's per-second series as a table file beside the report, for analysis.

One file per experiment: ``series-<experiment>.parquet`` when pandas and pyarrow are
installed, else ``series-<experiment>.csv``. Columns: the document's row fields
(``index``, ``start_unix``, ``warmup``, ``sent``, ``ok``, ``wrong``, ``failed``, ``overload``,
``no_upstream``, ``p50_ms`` .. ``max_ms``, ``hdr``), then ``offset_s`` (seconds from the
first row) and ``window`` (baseline / fault / recovery / empty), then one ``failed_<STATUS>``
column per gRPC status seen.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfsverify.report.stats import window_of, windows_of

ROW_COLUMNS = (
    "index",
    "start_unix",
    "offset_s",
    "window",
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
    "hdr",
)


def series_table(experiment: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The experiment's series as (columns, rows) ready for a table file."""
    rows = experiment.get("series") or []
    windows = windows_of(experiment)
    statuses = sorted({s for row in rows for s in (row.get("failed_by_status") or {})})
    first = float(rows[0]["start_unix"]) if rows else 0.0
    table = []
    for row in rows:
        by_status = row.get("failed_by_status") or {}
        record = {column: row.get(column) for column in ROW_COLUMNS}
        record["offset_s"] = float(row["start_unix"]) - first
        record["window"] = "" if row.get("warmup") else window_of(float(row["start_unix"]), windows)
        record.update({f"failed_{s}": int(by_status.get(s, 0)) for s in statuses})
        table.append(record)
    return [*ROW_COLUMNS, *(f"failed_{s}" for s in statuses)], table


def series_file_names(experiment_names: list[str], suffix: str) -> list[str]:
    """``series-<name><suffix>`` per experiment, names made safe for files and unique."""
    out: list[str] = []
    for name in experiment_names:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "experiment"
        candidate, n = f"series-{safe}{suffix}", 1
        while candidate in out:
            n += 1
            candidate = f"series-{safe}-{n}{suffix}"
        out.append(candidate)
    return out


def parquet_available() -> bool:
    """Whether pandas and pyarrow are installed (parquet files), else CSV is written."""
    return all(importlib.util.find_spec(name) is not None for name in ("pandas", "pyarrow"))


def write_series(experiment: Mapping[str, Any], path: Path) -> None:
    """Write one experiment's series to ``path``: parquet when it ends in ``.parquet``,
    otherwise CSV."""
    columns, rows = series_table(experiment)
    if path.suffix == ".parquet":
        import pandas as pd

        pd.DataFrame(rows, columns=columns).to_parquet(path, index=False)
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
