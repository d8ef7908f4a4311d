"""The local target's daemon: kubelet, ReplicaSet and scheduler for the pods of an overlay.

    python -m tfsverify.targets.local.supervisor --state-dir D --overlay O

runs it in the foreground until SIGTERM, SIGINT or the ``shutdown`` control op (the CLI
starts it detached, its output in ``D/supervisor.log``). :func:`run_supervisor` does the
same for a :class:`ClusterSpec` already read. It keeps in ``D``:

- ``supervisor.pid`` and ``control.sock`` (the control API, see ``control.py``) while it runs;
- ``status.json``, rewritten atomically on every change (see ``state.py``);
- ``mesh.json``, the mesh config the sidecars watch; ``pki/``, the mesh CA and certificates
  (only when a pod template has the sidecar injected);
- ``pods/<pod>/``: container logs, volumes and ``sidecar.json``.

Pod IPs come from ``TFSVERIFY_POD_CIDR`` (default 127.0.1.0/24), the pods' private
localhost addresses from ``TFSVERIFY_POD_LOCAL_CIDR`` (default 127.0.2.0/24).

A listen address in use, a command that cannot run here or a PKI failure at start-up is
fatal: ``status.json`` gets ``startup_error``, every process is stopped, the exit code is 3.
On the way out every container's process group is killed; containers also die with the
supervisor under ``kill -9`` (parent-death signal).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from tfsverify.errors import EXIT_TARGET, TfsverifyError
from tfsverify.targets.local.control import pid_alive, serve_control
from tfsverify.targets.local.kubelet import Hooks
from tfsverify.targets.local.operations import Operations
from tfsverify.targets.local.podplan import (
    WorkloadTls,
    resolve_command,
)
from tfsverify.targets.local.replicaset import PodController
from tfsverify.targets.local.spec import ClusterSpec
from tfsverify.targets.local.state import (
    DEFAULT_POD_CIDR,
    DEFAULT_POD_LOCAL_CIDR,
    AddressPool,
    ClusterState,
    write_json_atomic,
)

RESYNC_S = 1.0  # the ReplicaSet and the scheduler look again at least this often
SHUTDOWN_WAIT_S = 5.0


class Supervisor:
    """One daemon for one state directory."""

    def __init__(self, spec: ClusterSpec, state_dir: Path, *, pod_cidr: str | None = None,
                 pod_local_cidr: str | None = None) -> None:
        self.spec = spec
        self.dir = Path(state_dir).resolve()
        pool = AddressPool(
            pod_cidr or os.environ.get("TFSVERIFY_POD_CIDR", DEFAULT_POD_CIDR),
            pod_local_cidr or os.environ.get("TFSVERIFY_POD_LOCAL_CIDR", DEFAULT_POD_LOCAL_CIDR),
        )
        self.state = ClusterState(self.dir, spec.overlay, spec.nodes)
        self.state.events.on_add = self.changed
        self._write_pending = False
        self._socket_inode: int | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.pods = PodController(spec, self.state, pool, self.dir,
                                  Hooks(self.state.events, self.changed), self.wake)
        self.operations = Operations(self)

    # files -------------------------------------------------------------------------------
    @property
    def mesh_path(self) -> Path:
        return self.dir / "mesh.json"

    def changed(self) -> None:
        """Something in the status changed: rewrite status.json soon (coalesced)."""
        if not self._write_pending:
            self._write_pending = True
            asyncio.get_running_loop().call_soon(self.flush_status)

    def flush_status(self) -> None:
        """Write status.json now if a change is pending (control ops do before replying)."""
        if self._write_pending:
            self._write_status()

    def _write_status(self) -> None:
        self._write_pending = False
        write_json_atomic(self.dir / "status.json", self.state.status_document())

    def write_mesh(self) -> None:
        write_json_atomic(self.mesh_path, self.state.mesh_document())
        self.changed()

    # lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until stopped; the exit code (0, or 3 after a fatal start-up condition)."""
        return asyncio.run(self._main())

    async def _main(self) -> int:
        pid_file = self.dir / "supervisor.pid"
        if self._another_runs(pid_file):
            print(f"tfsverify supervisor: another supervisor runs for {self.dir}", file=sys.stderr)
            return EXIT_TARGET
        self.dir.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{os.getpid()}\n")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        code, server = 0, None
        try:
            self._prepare()
            server = await serve_control(self.dir / "control.sock", self.operations.handle)
            self._socket_inode = (self.dir / "control.sock").stat().st_ino
            self.pods.reconcile()
            self.pods.starting = False
            await self._serve()
        except TfsverifyError as exc:
            self.state.startup_error = str(exc)
            print(f"tfsverify supervisor: startup failed: {exc}", file=sys.stderr, flush=True)
            code = exc.exit_code
        except OSError as exc:  # a file of the state directory cannot be written
            self.state.startup_error = f"{exc.strerror}: {exc.filename}"
            print(f"tfsverify supervisor: startup failed: {exc}", file=sys.stderr, flush=True)
            code = EXIT_TARGET
        finally:
            await self._teardown(server, pid_file)
        return code

    def _another_runs(self, pid_file: Path) -> bool:
        pid = _read_pid(pid_file)
        if not pid or pid == os.getpid():
            return False
        try:
            started = json.loads((self.dir / "status.json").read_text()).get("started_epoch_s")
        except (OSError, ValueError):
            started = None
        return pid_alive(pid, started if isinstance(started, float) else None)

    def wake(self) -> None:
        """Have the ReplicaSet and the scheduler look again now."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _prepare(self) -> None:
        (self.dir / "pods").mkdir(exist_ok=True)
        self._write_status()
        for deployment in self.spec.deployments:
            for container in deployment.template.containers:
                resolve_command(container)
        self.state.init_mesh(self.spec.deployments)
        self.write_mesh()
        if any(d.template.sidecar_injected for d in self.spec.deployments):
            self._issue_certificates()

    def _issue_certificates(self) -> None:
        from tfsverify.targets.local import pki  # cryptography only when a mesh is needed

        mesh_pki = pki.ensure_mesh_pki(self.dir / "pki")
        for d in self.spec.deployments:
            svc = d.service_name
            names = [d.service_host, f"{svc}.{d.namespace}.svc", f"{svc}.{d.namespace}", svc]
            cert, key = pki.issue_workload_cert(mesh_pki, d.namespace,
                                                d.template.service_account, names)
            self.pods.tls[d.name] = WorkloadTls(str(mesh_pki.ca_cert), str(cert), str(key))
        first = self.spec.deployments[0]
        self.state.tls = {
            "ca": str(mesh_pki.ca_cert), "cert": str(mesh_pki.client_cert),
            "key": str(mesh_pki.client_key), "server_name": first.service_host,
            "principal": mesh_pki.client_principal,
        }

    async def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RESYNC_S)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.pods.reconcile()
            except Exception as exc:  # keep serving; say what went wrong
                self.state.events.add("Warning", "supervisor", "ReconcileFailed", str(exc))
                print(f"tfsverify supervisor: reconcile failed: {exc!r}", file=sys.stderr)

    async def _teardown(self, server: asyncio.AbstractServer | None, pid_file: Path) -> None:
        if server is not None:
            server.close()
        await self.pods.stop_all(SHUTDOWN_WAIT_S)
        # remove only what is still ours (a later supervisor may own the directory by now)
        socket_path = self.dir / "control.sock"
        with contextlib.suppress(OSError):
            if socket_path.stat().st_ino == self._socket_inode:
                socket_path.unlink()
        if _read_pid(pid_file) == os.getpid():
            self._write_status()
            pid_file.unlink(missing_ok=True)

def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def run_supervisor(spec: ClusterSpec, state_dir: Path, *, pod_cidr: str | None = None,
                   pod_local_cidr: str | None = None) -> int:
    """Run the daemon for ``spec`` in the foreground (main thread); its exit code."""
    return Supervisor(spec, state_dir, pod_cidr=pod_cidr, pod_local_cidr=pod_local_cidr).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfsverify.targets.local.supervisor",
                                     description="Run the local target in the foreground.")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--overlay", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        from tfsverify.targets.local.manifests import read_cluster

        spec = read_cluster(args.overlay)
        return run_supervisor(spec, args.state_dir)
    except TfsverifyError as exc:
        print(f"tfsverify supervisor: startup failed: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
