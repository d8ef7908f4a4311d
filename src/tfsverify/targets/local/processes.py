"""Container processes: started so they never outlive the supervisor, waited for, killed.

- Every container is a process in its own session (process group) that gets SIGKILL when
  the supervisor dies (``PR_SET_PDEATHSIG``), even under ``kill -9``: no orphans. Its output
  goes to its log file.
- When a container's main process exits, the rest of its group is killed with it, as a
  container's cgroup is, before the pid is reaped (so the group id cannot have been reused).

Containers must be started from the thread that lives as long as the supervisor (the
event loop's): the parent-death signal fires when the *thread* that forked them exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tfsverify.targets.local.podplan import ContainerPlan

_POLL_S = 0.05
# Sets PR_SET_PDEATHSIG (1) to SIGKILL (9), checks the parent did not die before that took
# effect, then becomes the container's command. A launcher rather than a preexec_fn: the
# supervisor runs gRPC threads, and forking a threaded process to run Python in the child
# trips gRPC's fork handlers; without a preexec_fn, subprocess spawns with vfork and exec.
_LAUNCHER = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None).prctl(1, 9)\n"
    "if os.getppid() != int(sys.argv[1]): os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def spawn(plan: ContainerPlan, cwd: Path) -> subprocess.Popen[bytes]:
    """Start one container process (own session, dies with the supervisor)."""
    argv = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), *plan.argv]
    with plan.log_path.open("ab") as log:
        return subprocess.Popen(
            argv, env=plan.env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _has_exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


async def wait_exit(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the container's main process; kill its group; reap; the exit code
    (128 + signal for a signalled process, as container runtimes report it)."""
    loop = asyncio.get_running_loop()
    try:
        pidfd: int | None = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while not _has_exited(proc.pid):
            if pidfd is None:
                await asyncio.sleep(_POLL_S)
                continue
            readable = loop.create_future()
            loop.add_reader(pidfd, _set_done, readable)
            try:
                await readable
            finally:
                loop.remove_reader(pidfd)
    finally:
        if pidfd is not None:
            os.close(pidfd)
    kill_group(proc.pid)  # the pid is not reaped yet, so it cannot have been reused
    code = proc.wait()
    return 128 - code if code < 0 else code


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
