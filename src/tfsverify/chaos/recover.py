"""``tfsverify recover``: undo every fault a run applied and did not roll back.

It replays the target's fault journal (:mod:`tfsverify.chaos.faultlog`): a cordoned node is
uncordoned, an injected mesh fault cleared, a rollout's route weights returned to the
manifests' ones, and each is marked undone. Faults that heal by
themselves (killed pods and sidecars) are only marked. Running it again finds nothing to do.

When the local target is not running, its faults ended with its processes: they are marked
undone as such. Any other failure to reach the target leaves the fault open and raises.
"""

from __future__ import annotations

from tfsverify.chaos.faultlog import Fault, FaultLog
from tfsverify.errors import TargetNotRunning
from tfsverify.targets.base import Target


def _undo(target: Target, fault: Fault) -> str:
    if fault.kind == "cordon":
        target.uncordon_node(fault.subject)
        return f"uncordoned node {fault.subject}"
    if fault.kind == "grpc_fault":
        target.clear_faults()
        return "cleared the mesh fault"
    if fault.kind == "route_weights":
        target.clear_faults()
        return "returned the route to its manifest weights"
    return "healed by itself (replaced or restarted by the target)"


def recover(target: Target, log: FaultLog) -> list[dict[str, str]]:
    """Undo the open faults of ``log`` on ``target``; returns what was done, one per fault."""
    done: list[dict[str, str]] = []
    for fault in log.open_faults():
        try:
            how = _undo(target, fault)
        except TargetNotRunning:
            how = "the target is not running: the fault ended with it"
        log.mark_undone(fault.id, how)
        done.append({"id": fault.id, "kind": fault.kind, "subject": fault.subject, "how": how})
    return done


def run_command(target: Target | None = None) -> int:
    """``tfsverify recover``: undo what the fault journal holds; prints one line per fault."""
    import sys

    from tfsverify.chaos.target import current_target, fault_log_path
    from tfsverify.errors import EXIT_OK, TfsverifyError

    try:
        chosen = target or current_target()
        log = FaultLog(fault_log_path(chosen))
        done = recover(chosen, log)
    except TfsverifyError as exc:
        sys.stderr.write(f"tfsverify recover: error: {exc}\n")
        return exc.exit_code
    for fault in done:
        print(f"{fault['kind']} {fault['subject']}: {fault['how']}")
    if not done:
        print(f"nothing to recover ({log.path} holds no open fault)")
    return EXIT_OK
