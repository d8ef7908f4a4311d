"""Merge what several engines (worker processes) measured, exactly.

Histograms travel in HdrHistogram's encoded form and are added bucket by bucket, so the
merged percentiles are the percentiles of the union of all samples: never an average of
per-worker percentiles. Time series are summed per second, with each second's histograms
merged the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from hdrh.histogram import HdrHistogram

from tfsverify.load.engine import EngineOutput
from tfsverify.load.recorder import Counts, IntervalStats, new_histogram, percentiles_ms


def merge_histograms(encoded: Sequence[bytes]) -> HdrHistogram:
    """One histogram holding every sample of the encoded ones."""
    merged = new_histogram()
    for item in encoded:
        merged.add(HdrHistogram.decode(item))
    return merged


def merge_outputs(outputs: Sequence[EngineOutput]) -> EngineOutput:
    """The output of one engine that would have sent what all of ``outputs`` sent."""
    if len(outputs) == 1:
        return outputs[0]
    totals = Counts()
    sent_by_address: Counter[str] = Counter()
    for output in outputs:
        totals.add(output.totals)
        sent_by_address.update(output.sent_by_address)
    errors = [o.last_refresh_error for o in outputs if o.last_refresh_error]
    return EngineOutput(
        start_unix=min(o.start_unix for o in outputs),
        sent_until_unix=max(o.sent_until_unix for o in outputs),
        end_unix=max(o.end_unix for o in outputs),
        interrupted=any(o.interrupted for o in outputs),
        totals=totals,
        latency=merge_histograms([o.latency for o in outputs]).encode(),
        send_lag=merge_histograms([o.send_lag for o in outputs]).encode(),
        series=merge_series([o.series for o in outputs]),
        sent_by_address=sent_by_address,
        addresses_seen=set().union(*(o.addresses_seen for o in outputs)),
        refresh_errors=sum(o.refresh_errors for o in outputs),
        last_refresh_error=errors[-1] if errors else None,
        route=outputs[-1].route,
    )


def merge_series(series: Sequence[Sequence[IntervalStats]]) -> list[IntervalStats]:
    """Sum the per-second series of several engines that started at the same instant."""
    length = max((len(s) for s in series), default=0)
    merged = []
    for index in range(length):
        parts = [s[index] for s in series if index < len(s)]
        merged.append(_merge_interval(index, parts))
    return merged


def _merge_interval(index: int, parts: Sequence[IntervalStats]) -> IntervalStats:
    encoded = [p.histogram for p in parts if p.histogram is not None]
    histogram = merge_histograms(encoded)
    pct = percentiles_ms(histogram)
    by_status: Counter[str] = Counter()
    for part in parts:
        by_status.update(part.failed_by_status)
    return IntervalStats(
        index=index,
        start_unix=parts[0].start_unix,
        warmup=any(p.warmup for p in parts),
        sent=sum(p.sent for p in parts),
        ok=sum(p.ok for p in parts),
        wrong=sum(p.wrong for p in parts),
        failed=sum(p.failed for p in parts),
        overload=sum(p.overload for p in parts),
        no_upstream=sum(p.no_upstream for p in parts),
        failed_by_status=dict(by_status),
        p50_ms=pct["p50"],
        p90_ms=pct["p90"],
        p99_ms=pct["p99"],
        max_ms=pct["max"],
        histogram=histogram.encode() if encoded else None,
        retries=sum(p.retries for p in parts),
    )
