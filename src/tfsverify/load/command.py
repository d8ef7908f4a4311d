"""``tfsverify load``: send a load profile to TF Serving and print what it measured.

Two ways to reach the service:

* the selected target (default): the engine takes the target's ready endpoints and the
  mesh client's mTLS identity, and keeps refreshing them, as a meshed client would;
* ``--address host:port``: one fixed server, in plaintext (the default) or TLS
  (``--ca``, plus ``--cert``/``--key`` for mutual TLS, ``--server-name`` to verify).

On a terminal a live line shows the rate, errors and p99 so far; a summary table follows.
``--json`` prints the result JSON instead; ``--out DIR`` writes ``result.json`` and the
per-second series. ``--stream`` prints JSON lines while the run goes on instead (a header,
one line per completed second with its HdrHistogram, progress, an end line; see
:mod:`tfsverify.load.stream`): how a load Job reports through its log. Ctrl-C (and, with
``--stream``, SIGTERM) stops sending at once, still reports the partial run, and exits
with 130.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tfsverify.errors import EXIT_INTERRUPTED, EXIT_OK, BadInput, TfsverifyError
from tfsverify.load.engine import Progress
from tfsverify.load.mesh import ClientTls, EndpointSource, fixed_upstream, wait_reachable
from tfsverify.load.profiles import load_profile
from tfsverify.load.result import LoadResult
from tfsverify.load.runner import run_load
from tfsverify.load.stream import run_streaming
from tfsverify.serving.golden import load_golden
from tfsverify.targets.base import Endpoint

CONNECT_TIMEOUT_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``tfsverify load``'s flags to ``parser``."""
    add = parser.add_argument
    add(
        "--profile",
        required=True,
        type=Path,
        metavar="FILE",
        help="load profile YAML (scenarios/profiles/*.yaml)",
    )
    add(
        "--rate",
        type=float,
        metavar="RPS",
        help="peak request rate; the profile's shape is scaled to it",
    )
    add(
        "--duration",
        type=float,
        metavar="S",
        help="measured seconds; the profile's stages are scaled to it",
    )
    add("--workers", type=int, metavar="N", help="client processes sharing the load")
    add("--address", metavar="HOST:PORT", help="one fixed server instead of the target's endpoints")
    add(
        "--plaintext", action="store_true", help="with --address: no TLS (the default without --ca)"
    )
    add("--ca", type=Path, metavar="FILE", help="with --address: the CA to trust (TLS)")
    add("--cert", type=Path, metavar="FILE", help="with --address: client certificate (mTLS)")
    add("--key", type=Path, metavar="FILE", help="with --address: client key (mTLS)")
    add(
        "--server-name",
        metavar="NAME",
        help="with --address: the name to verify the server certificate against",
    )
    add(
        "--golden",
        type=Path,
        metavar="FILE",
        help="golden vectors (default: reference-deploy/model/golden.json)",
    )
    add("--json", action="store_true", help="print the result JSON instead of the table")
    add(
        "--stream",
        action="store_true",
        help="print JSON lines while the load runs (header, one per second, end); one worker",
    )
    add("--out", type=Path, metavar="DIR", help="write result.json and series.parquet here")


def run(args: argparse.Namespace, endpoints_from_target: Callable[[], Endpoint] | None) -> int:
    """Run ``tfsverify load``; returns the exit code (errors print one line to stderr)."""
    err = Console(stderr=True)
    try:
        return _run(args, endpoints_from_target, err)
    except TfsverifyError as exc:
        sys.stderr.write(f"tfsverify load: error: {exc}\n")  # one line, never wrapped
        return exc.exit_code


def _run(
    args: argparse.Namespace, endpoints_from_target: Callable[[], Endpoint] | None, err: Console
) -> int:
    profile = load_profile(args.profile).with_overrides(
        rate_rps=args.rate, duration_s=args.duration, workers=args.workers
    )
    stream = getattr(args, "stream", False)
    if stream and args.json:
        raise BadInput("--stream and --json both print to stdout: choose one")
    if stream and profile.workers > 1 and args.workers is not None:
        raise BadInput("--stream runs one worker; leave out --workers")
    source, mode = _endpoint_source(args, endpoints_from_target)
    golden = load_golden(args.golden)
    stop = threading.Event()
    if stream:
        with _stop_on_ctrl_c(stop, sigterm=True):
            result = run_streaming(
                profile, source, golden=golden, write=_write_flushed, stop_event=stop, mode=mode
            )
    else:
        live = err.is_terminal and not args.json
        with _stop_on_ctrl_c(stop), _progress_line(err, live) as on_tick:
            result = run_load(
                profile, source, golden=golden, on_tick=on_tick, stop_event=stop, mode=mode
            )
    if args.out is not None:
        written = result.write(args.out)
        sys.stderr.write(f"wrote {', '.join(str(p) for p in written)}\n")
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
    elif not stream:  # a stream went to stdout while it ran
        Console().print(summary_table(result))
    return EXIT_INTERRUPTED if stop.is_set() else EXIT_OK


def _endpoint_source(
    args: argparse.Namespace, endpoints_from_target: Callable[[], Endpoint] | None
) -> tuple[EndpointSource, str]:
    tls_flags = [f for f in ("ca", "cert", "key", "server_name") if getattr(args, f) is not None]
    if args.address is None:
        if tls_flags or args.plaintext:
            raise BadInput("--plaintext, --ca, --cert, --key and --server-name need --address")
        if endpoints_from_target is None:
            raise BadInput("give --address HOST:PORT, or select a target (TFSVERIFY_TARGET)")
        return endpoints_from_target, "mesh"
    if args.plaintext and tls_flags:
        raise BadInput("--plaintext excludes --ca, --cert, --key and --server-name")
    if tls_flags and args.ca is None:
        raise BadInput("TLS needs --ca (the CA that signed the server's certificate)")
    tls = ClientTls(args.ca, args.cert, args.key, args.server_name) if args.ca else None
    if tls is not None:
        tls.check_files()
    source = fixed_upstream(args.address, tls)
    asyncio.run(wait_reachable(source(), CONNECT_TIMEOUT_S))
    return source, "address"


def _write_flushed(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()  # a pipe (a pod's log) is block-buffered otherwise


@contextmanager
def _stop_on_ctrl_c(stop: threading.Event, sigterm: bool = False) -> Iterator[None]:
    """Ctrl-C (and SIGTERM if asked) sets ``stop`` (the engine then stops sending)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGINT, *([signal.SIGTERM] if sigterm else [])]
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def _progress_line(console: Console, enabled: bool) -> Iterator[Callable[[Progress], None] | None]:
    if not enabled:
        yield None
        return
    with Live(Text("starting load ..."), console=console, refresh_per_second=4) as live:
        yield lambda progress: live.update(progress_text(progress))


def progress_text(p: Progress) -> Text:
    """One line: time, rate, outcomes, p99 so far, endpoints."""
    errors = p.failed + p.wrong
    share = f"{errors / p.sent:.1%}" if p.sent else "-"
    p99 = f"{p.p99_ms:.1f} ms" if p.p99_ms is not None else "-"
    phase = " (warm-up)" if p.warmup else ""
    return Text(
        f"{p.elapsed_s:>4.0f}/{p.planned_s:.0f} s{phase}  {p.rate_rps:.0f} rps  ok {p.ok}  "
        f"wrong {p.wrong}  failed {p.failed} ({share})  p99 {p99}  "
        f"in flight {p.in_flight}  endpoints {p.endpoints}",
        no_wrap=True,
        overflow="ellipsis",
    )


def summary_table(result: LoadResult) -> Table:
    """The end-of-run table: totals, per-status counts, latency percentiles."""
    doc: dict[str, Any] = result.to_dict()
    totals, latency = doc["totals"], doc["latency_ms"]
    title = f"load {doc['profile']['name']} ({doc['profile']['kind']})"
    if result.interrupted:
        title += " - interrupted"
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("measured", f"{totals['measured_s']:.1f} s")
    table.add_row("sent", f"{totals['sent']} ({_num(totals['offered_rps'])}/s)")
    table.add_row("ok", f"{totals['ok']} ({_pct(totals['availability'])})")
    table.add_row("wrong answers", str(totals["wrong"]))
    for status, count in sorted(doc["status_counts"].items()):
        if status != "OK":
            table.add_row(f"failed {status}", str(count))
    for key in ("p50", "p90", "p99", "p99_9", "max"):
        value = latency[key]
        table.add_row(f"latency {key.replace('_', '.')}", "-" if value is None else f"{value} ms")
    table.add_row("latency samples", str(latency["count"]))
    return table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"
