"""`tfsverify`: the command line. The only module that exits the process.

Verbs: ``up``, ``status``, ``down`` (the local target), ``load`` (the gRPC load engine),
``chaos`` (experiments under load, SLO verdicts, one report), ``perf`` (the pre-release
performance report), ``recover`` (undo faults left by
a crash), ``report`` (render a run's report again), ``validate-deploy`` (static checks of
reference-deploy/).
Exit codes are those of :mod:`tfsverify.errors`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tfsverify import __version__
from tfsverify.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    BadInput,
    TfsverifyError,
)
from tfsverify.settings import Settings, load_settings
from tfsverify.targets.local.target import LocalTarget

_err = Console(stderr=True, highlight=False, soft_wrap=True)
_out = Console(highlight=False, soft_wrap=True)


def _local_target(settings: Settings) -> LocalTarget:
    if settings.target != "local":
        raise BadInput(
            f"TFSVERIFY_TARGET={settings.target}: this command manages the local target "
            "(a cluster is set up with reference-deploy/scripts/bootstrap.sh)"
        )
    local = settings.local
    return LocalTarget(local.state_dir, local.overlay, local.up_timeout_s)


def _target(settings: Settings) -> Any:
    """The selected target; the kubernetes one refuses contexts and namespaces not allowed."""
    if settings.target == "kubernetes":
        from tfsverify.targets.kubernetes import KubernetesTarget

        return KubernetesTarget.from_environment()
    return _local_target(settings)


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    target = _local_target(settings)
    cluster = target.read_cluster()
    if args.show_ignored:
        for field in cluster.ignored + tuple(i for d in cluster.deployments for i in d.ignored):
            _err.print(f"ignored: {field}")
    else:
        count = len(cluster.ignored) + sum(len(d.ignored) for d in cluster.deployments)
        _err.print(f"{count} manifest fields are not modelled locally (--show-ignored lists them)")
    was_running = target.is_running()
    with _err.status("starting the local target", spinner="dots"):
        target.up()
    pods = target.pods()
    verb = "already up" if was_running else "up"
    _err.print(f"local target {verb}: {sum(p.ready for p in pods)} pods ready "
               f"(state in {target.state_dir})")
    return EXIT_OK


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    target = _local_target(settings)
    stopped = target.down()
    _err.print("local target stopped" if stopped else "local target was not running")
    return EXIT_OK


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    status = _target(settings).status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
        return EXIT_OK
    _print_status(status)
    return EXIT_OK


def _print_status(status: dict[str, Any]) -> None:
    pods = Table("pod", "node", "ready", "restarts", "address", title="pods")
    for p in status["pods"]:
        pods.add_row(p["name"], p.get("node") or "-", "yes" if p["ready"] else "no",
                     str(p["restarts"]), p.get("address") or p.get("pending_reason") or "-")
    nodes = Table("node", "schedulable", "gpu", title="nodes")
    for n in status["nodes"]:
        nodes.add_row(n["name"], "yes" if n["schedulable"] else "no (cordoned)", str(n["gpu"]))
    _out.print(pods)
    _out.print(nodes)
    model = status.get("model")
    if model:
        versions = ", ".join(f"{v}: {s}" for v, s in sorted(model["versions"].items()))
        _out.print(f"model {model['name']}: {versions}")
    tls = status["tls"]
    _out.print(f"client identity {tls['principal']} (ca {tls.get('ca') or 'from the mesh'})")


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    from tfsverify.load import command as load_command

    endpoints = None
    if not args.address:
        endpoints = _target(settings).endpoint
    return load_command.run(args, endpoints)


def cmd_chaos(settings: Settings, args: argparse.Namespace) -> int:
    from tfsverify.chaos import command as chaos_command

    return chaos_command.run(args, target=_target(settings))


def cmd_recover(settings: Settings, args: argparse.Namespace) -> int:
    from tfsverify.chaos.recover import run_command

    return run_command(_target(settings))


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    from tfsverify.report import render_again

    for path in render_again(args.run_dir):
        _err.print(f"wrote {path}")
    return EXIT_OK


def cmd_perf(settings: Settings, args: argparse.Namespace) -> int:
    from tfsverify.perf import command as perf_command
    from tfsverify.perf.target_session import TargetSettings

    local = settings.local
    return perf_command.run(
        args,
        TargetSettings(settings.target, local.state_dir, local.overlay, local.up_timeout_s),
    )


def cmd_validate_deploy(settings: Settings, args: argparse.Namespace) -> int:
    from tfsverify.deploycheck import command as deploy_command

    return deploy_command.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfsverify",
        description="Chaos and performance verification for TensorFlow Serving behind Istio.",
    )
    parser.add_argument("--version", action="version", version=f"tfsverify {__version__}")
    parser.add_argument("--target", choices=("local", "kubernetes"),
                        help="where the deployment runs (default: $TFSVERIFY_TARGET or local)")
    parser.add_argument("--state-dir", type=Path, help="local target state (default: see docs)")
    parser.add_argument("--overlay", type=Path, help="Kustomize overlay the local target runs")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    up = verbs.add_parser("up", help="start the local target; return when every replica is ready")
    up.add_argument("--show-ignored", action="store_true",
                    help="list every manifest field the local target does not model")
    up.set_defaults(handler=cmd_up)

    status = verbs.add_parser("status", help="pods, nodes, client TLS material, model versions")
    status.add_argument("--json", action="store_true", help="machine-readable (stable keys)")
    status.set_defaults(handler=cmd_status)

    down = verbs.add_parser("down", help="stop every process of the local target")
    down.set_defaults(handler=cmd_down)

    from tfsverify.load import command as load_command

    load = verbs.add_parser("load", help="open-loop gRPC Predict load with checked answers")
    load_command.add_arguments(load)
    load.set_defaults(handler=cmd_load)

    from tfsverify.chaos import command as chaos_command

    chaos = verbs.add_parser(
        "chaos", help="run experiments/ under gRPC load, judge the SLOs, write one report"
    )
    chaos_command.add_arguments(chaos)
    chaos.set_defaults(handler=cmd_chaos)

    recover = verbs.add_parser(
        "recover", help="undo every fault tfsverify applied and did not undo (after a crash)"
    )
    recover.set_defaults(handler=cmd_recover)

    report = verbs.add_parser("report", help="render report.html/.md/junit.xml again")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run folder under reports/ (holds summary.json)")
    report.set_defaults(handler=cmd_report)

    from tfsverify.perf import command as perf_command

    perf = verbs.add_parser(
        "perf", help="pre-release performance report against a baseline (exit 1 on a regression)"
    )
    perf_command.add_arguments(perf)
    perf.set_defaults(handler=cmd_perf)

    from tfsverify.deploycheck import command as deploy_command

    validate = verbs.add_parser(
        "validate-deploy",
        help="render reference-deploy/ overlays; schema and policy checks (exit 1 on findings)",
    )
    deploy_command.add_arguments(validate)
    validate.set_defaults(handler=cmd_validate_deploy)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(target=args.target, state_dir=args.state_dir,
                                 overlay=args.overlay)
        code = args.handler(settings, args)
    except TfsverifyError as err:
        _err.print(f"tfsverify: error: {err}", markup=False)
        code = err.exit_code
    except KeyboardInterrupt:
        _err.print("tfsverify: interrupted")
        code = EXIT_INTERRUPTED
    sys.exit(code if code is not None else EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
