"""A load run as JSON lines, written while it runs, and the parser that rebuilds its result.

``tfsverify load --stream`` prints one JSON object per line to stdout. It is how a load
that runs somewhere else (a Kubernetes Job inside the mesh) reports back through the only
channel it has, its log, for a run whose length nobody knows in advance. Every line has a
``kind``:

``header``    first: ``stream`` (``"tfsverify.load"``), ``version``, ``start_unix``,
              ``warmup_s``, ``mode``, ``workers``, ``profile`` (as in ``result.json``) and
              ``environment`` (the fingerprint)
``second``    one per completed second of the run, in order of ``index``: the counts of the
              requests due in it (``sent``, ``ok``, ``wrong``, ``failed``,
              ``failed_by_status``, ...), ``p50_ms``..``max_ms`` and ``hdr``, that second's
              HdrHistogram (``encode()``, base64 text; ``null`` when nothing was answered), so
              windows merge exactly
``progress``  once a second: the live counts (:class:`~tfsverify.load.engine.Progress`
              fields), ``unix``, ``sent_by_address`` and ``addresses_seen``
``end``       last, only when the run ended normally: totals, the measured histogram, the
              send lag, the upstream counters and the retry policy

:func:`result_from_stream` rebuilds the :class:`~tfsverify.load.result.LoadResult` from
such lines, up to a stop time if given. Lines that are not JSON (a truncated last line,
stderr noise in a pod log) are skipped. With the ``end`` line and no earlier stop the
result equals the in-process one; otherwise totals and the measured histogram are summed
from the complete non-warm-up seconds (exact for whole-second warm-ups), the send lag is
empty and ``interrupted`` is set.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tfsverify.errors import TargetError
from tfsverify.load.engine import Engine, EngineOutput, Progress, StopSignal
from tfsverify.load.merge import merge_histograms
from tfsverify.load.mesh import EndpointSource
from tfsverify.load.payloads import AnswerKey, Payloads
from tfsverify.load.profiles import Profile, Stage
from tfsverify.load.recorder import Counts, IntervalStats, new_histogram
from tfsverify.load.result import LoadResult, environment
from tfsverify.targets.base import RoutePolicy

STREAM = "tfsverify.load"
VERSION = 1
_EPS_S = 1e-6
_PROFILE_FIELDS = ("warmup_s", "batch_size", "deadline_ms", "max_in_flight", "balancing",
                   "workers", "repetitions", "model_version", "description", "source", "sha256")


def _line(kind: str, **doc: Any) -> str:
    return json.dumps({"kind": kind, **doc}, separators=(",", ":")) + "\n"


class StreamWriter:
    """Writes the lines of one run through ``write`` (e.g. ``stdout.write`` plus a flush)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._next = 0  # the index of the next second to write

    def header(self, profile: Profile, start_unix: float, mode: str, env: dict[str, Any]) -> None:
        self._write(_line("header", stream=STREAM, version=VERSION, start_unix=start_unix,
                          warmup_s=profile.warmup_s, mode=mode, workers=profile.workers,
                          profile=profile.to_dict(), environment=env))

    def tick(self, engine: Engine, progress: Progress) -> None:
        """The seconds completed since the last tick, then the progress line."""
        self._seconds(engine.recorder.series())
        pool = engine.pool
        self._write(_line("progress", unix=time.time(), **asdict(progress),
                          sent_by_address=dict(pool.sent_by_address),
                          addresses_seen=sorted(pool.addresses_seen)))

    def end(self, output: EngineOutput) -> None:
        """The seconds not written yet, then the end line."""
        self._seconds(output.series)
        totals = asdict(output.totals)
        totals["by_status"] = dict(output.totals.by_status)
        route = None
        if output.route is not None:
            route = asdict(output.route) | {"retry_on": sorted(output.route.retry_on)}
        self._write(_line(
            "end", sent_until_unix=output.sent_until_unix, end_unix=output.end_unix,
            interrupted=output.interrupted, totals=totals,
            latency=output.latency.decode("ascii"), send_lag=output.send_lag.decode("ascii"),
            sent_by_address=dict(output.sent_by_address),
            addresses_seen=sorted(output.addresses_seen), refresh_errors=output.refresh_errors,
            last_refresh_error=output.last_refresh_error, route=route))

    def _seconds(self, series: list[IntervalStats]) -> None:
        closed = {row.index: row for row in series}
        while self._next in closed:  # only the contiguous prefix: lines stay in index order
            row = asdict(closed[self._next])
            histogram = row.pop("histogram")
            row["hdr"] = histogram.decode("ascii") if histogram is not None else None
            self._write(_line("second", **row))
            self._next += 1


def run_streaming(
    profile: Profile,
    source: EndpointSource,
    *,
    golden: AnswerKey,
    write: Callable[[str], None],
    stop_event: StopSignal | None = None,
    mode: str = "address",
    refresh_s: float = 0.5,
    seed: int = 0,
) -> LoadResult:
    """Run ``profile`` in this process (one worker) and write its lines while it runs.

    Returns the same result :func:`~tfsverify.load.runner.run_load` would with
    ``keep_histograms=True``.
    """
    profile = profile.with_overrides(workers=1)
    start_unix = time.time()
    env = environment()
    writer = StreamWriter(write)
    engine = Engine(
        profile, source, Payloads(golden, profile.batch_size, profile.model_version),
        refresh_s=refresh_s, on_tick=lambda progress: writer.tick(engine, progress),
        stop_event=stop_event, seed=seed, keep_histograms=True, start_unix=start_unix,
    )
    writer.header(profile, start_unix, mode, env)
    output = asyncio.run(engine.run())
    writer.end(output)
    return LoadResult(profile=profile, mode=mode, workers=1, output=output, environment=env)


# -- reading ----------------------------------------------------------------------------------

@dataclass
class StreamView:
    """The decoded lines of one stream, by kind."""

    header: dict[str, Any] | None = None
    seconds: list[dict[str, Any]] = field(default_factory=list)
    progress: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None

    @property
    def start_unix(self) -> float | None:
        return None if self.header is None else float(self.header["start_unix"])

    def latest(self) -> Progress | None:
        """The last progress line as a :class:`Progress` (None before the first)."""
        if not self.progress:
            return None
        names = {f.name for f in fields(Progress)}
        return Progress(**{k: v for k, v in self.progress[-1].items() if k in names})


def read_stream(lines: Iterable[str]) -> StreamView:
    """Sort the lines by kind; lines that are not stream JSON are skipped."""
    view = StreamView()
    for text in lines:
        text = text.strip()
        if not text.startswith("{"):
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            continue  # truncated (the log was read mid-line) or not ours
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind == "header" and doc.get("stream") == STREAM:
            if doc.get("version") != VERSION:
                raise TargetError(f"load stream version {doc.get('version')!r}: this tfsverify "
                                  f"reads version {VERSION} (image and runner differ)")
            view.header = doc
        elif view.header is None:
            continue  # nothing counts before our header
        elif kind == "second":
            view.seconds.append(doc)
        elif kind == "progress":
            view.progress.append(doc)
        elif kind == "end":
            view.end = doc
    return view


def result_from_stream(lines: Iterable[str] | StreamView,
                       stop_unix: float | None = None) -> LoadResult:
    """The :class:`LoadResult` of the streamed run, cut at ``stop_unix`` if given.

    Only seconds that ended by ``stop_unix`` count. TargetError when there is no header.
    """
    view = lines if isinstance(lines, StreamView) else read_stream(lines)
    header = view.header
    if header is None:
        raise TargetError("the load stream has no header line: the load never started")
    profile = _profile(header["profile"])
    start_unix = float(header["start_unix"])
    rows = [_interval(doc) for doc in view.seconds]
    end = view.end
    if end is not None and (stop_unix is None or stop_unix + _EPS_S >= end["sent_until_unix"]):
        output = _finished(end, start_unix, rows)
    else:
        if stop_unix is not None:
            rows = [row for row in rows if row.start_unix + 1 <= stop_unix + _EPS_S]
        progress = [p for p in view.progress if stop_unix is None or p["unix"] <= stop_unix]
        output = _cut(start_unix, rows, progress[-1] if progress else {}, stop_unix)
    return LoadResult(profile=profile, mode=str(header["mode"]), workers=int(header["workers"]),
                      output=output, environment=dict(header["environment"]))


def _profile(doc: dict[str, Any]) -> Profile:
    stages = tuple(Stage(float(s["duration_s"]), float(s["rate_rps"]), float(s["to_rps"]))
                   for s in doc["stages"])
    return Profile(name=doc["name"], kind=doc["kind"], stages=stages,
                   **{key: doc[key] for key in _PROFILE_FIELDS if key in doc})


def _interval(doc: dict[str, Any]) -> IntervalStats:
    names = {f.name for f in fields(IntervalStats)} - {"histogram"}
    hdr = doc.get("hdr")
    return IntervalStats(**{k: v for k, v in doc.items() if k in names},
                         histogram=hdr.encode("ascii") if hdr is not None else None)


def _counts(doc: dict[str, Any]) -> Counts:
    counts = Counts(**{k: v for k, v in doc.items() if k != "by_status"})
    counts.by_status = Counter(doc.get("by_status") or {})
    return counts


def _finished(end: dict[str, Any], start_unix: float, rows: list[IntervalStats]) -> EngineOutput:
    route = end.get("route")
    return EngineOutput(
        start_unix=start_unix, sent_until_unix=end["sent_until_unix"], end_unix=end["end_unix"],
        interrupted=end["interrupted"], totals=_counts(end["totals"]),
        latency=end["latency"].encode("ascii"), send_lag=end["send_lag"].encode("ascii"),
        series=rows, sent_by_address=Counter(end["sent_by_address"]),
        addresses_seen=set(end["addresses_seen"]), refresh_errors=end["refresh_errors"],
        last_refresh_error=end["last_refresh_error"],
        route=None if route is None else RoutePolicy(**(route | {
            "retry_on": frozenset(route["retry_on"])})),
    )


def _cut(start_unix: float, rows: list[IntervalStats], progress: dict[str, Any],
         stop_unix: float | None) -> EngineOutput:
    totals = Counts()
    measured = [row for row in rows if not row.warmup]
    for row in measured:
        totals.add(Counts(row.sent, row.ok, row.wrong, row.failed, row.overload, row.no_upstream,
                          Counter(row.failed_by_status), row.retries))
    latency = merge_histograms([r.histogram for r in measured if r.histogram is not None])
    sent_until = rows[-1].start_unix + 1 if rows else start_unix
    return EngineOutput(
        start_unix=start_unix, sent_until_unix=sent_until,
        end_unix=max(sent_until, stop_unix or sent_until), interrupted=True, totals=totals,
        latency=latency.encode(), send_lag=new_histogram().encode(), series=rows,
        sent_by_address=Counter(progress.get("sent_by_address") or {}),
        addresses_seen=set(progress.get("addresses_seen") or ()),
    )


def empty_result(profile: Profile, start_unix: float, mode: str = "address") -> LoadResult:
    """A result with nothing sent (what a dry run of a remote load measures)."""
    return result_from_stream(StreamView(header={
        "start_unix": start_unix, "mode": mode, "workers": 1, "profile": profile.to_dict(),
        "environment": environment()}), stop_unix=start_unix)
