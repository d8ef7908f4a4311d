"""One sidecar's life: bind, serve, apply mesh config pushes, drain on a signal.

The mesh config file is polled every 100 ms (its mtime, size and inode), like an xDS push:
a new version that parses is applied at once (a new mTLS mode rebinds the listener); one
that does not is rejected with one log line and the previous config stays in force, as
Envoy NACKs a bad update. ``/config_dump`` shows which version is applied.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput, TargetError
from tfsverify.targets.local.sidecar.admin import AdminServer
from tfsverify.targets.local.sidecar.config import MeshConfig, SidecarConfig, load_mesh
from tfsverify.targets.local.sidecar.listener import MeshListener
from tfsverify.targets.local.sidecar.metrics import SidecarMetrics
from tfsverify.targets.local.sidecar.proxy import ProxyHandler, Upstream

log = logging.getLogger("tfsverify.sidecar")

POLL_S = 0.1
_REBIND_ATTEMPTS = 40  # x 50 ms: the old socket may take a moment to close


class Sidecar:
    def __init__(self, config: SidecarConfig, mesh: MeshConfig) -> None:
        self.config = config
        self.mesh = mesh
        self.rejected: dict[str, Any] | None = None
        self._stop = asyncio.Event()
        self._signature = _signature(config.mesh_config)
        self._metrics = SidecarMetrics(config.workload, config.namespace, config.principal)
        self._upstream = Upstream(config.upstream)
        handler = ProxyHandler(mesh=lambda: self.mesh, upstream=self._upstream,
                               metrics=self._metrics, rng=random.Random(config.seed),
                               port=config.listen.port, principal=config.principal)
        self._listener = MeshListener(config.listen, config.tls, handler)
        self._admin = AdminServer(config.admin, ready=lambda: self._listener.mode is not None,
                                  config_dump=self.config_dump, metrics=self._metrics.render,
                                  app_metrics_url=config.app_metrics_url, on_quit=self.stop)

    def stop(self) -> None:
        self._stop.set()

    def config_dump(self) -> dict[str, Any]:
        return {"pod": self.config.pod, "version": self.mesh.version,
                "mtls_mode": self.mesh.mtls_mode, "listening": self._listener.mode,
                "authorization": [p.name for p in self.mesh.policies],
                "fault": self.mesh.raw.get("fault"), "rejected": self.rejected}

    async def run(self) -> None:
        """Serve until :meth:`stop` (SIGTERM, SIGINT or ``/quitquitquit``)."""
        started = False
        try:
            await self._listener.start(self.mesh.mtls_mode)
            await self._admin.start()
            started = True
            log.info("listening on %s (%s), upstream %s, admin %s, mesh config v%d",
                     self.config.listen, self.mesh.mtls_mode, self.config.upstream,
                     self.config.admin, self.mesh.version)
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), POLL_S)
                except TimeoutError:
                    await self._poll()
        finally:
            await self._admin.stop()
            await self._listener.stop(self.config.drain_s)
            await self._upstream.close()
            if started:
                log.info("stopped")

    async def _poll(self) -> None:
        signature = _signature(self.config.mesh_config)
        if signature == self._signature:
            return
        self._signature = signature
        try:
            mesh = load_mesh(self.config.mesh_config)
        except BadInput as exc:
            self.rejected = {"error": str(exc)}
            log.warning("mesh config rejected, keeping v%d: %s", self.mesh.version, exc)
            return
        previous, self.mesh, self.rejected = self.mesh, mesh, None
        if mesh.mtls_mode != previous.mtls_mode:
            await self._rebind(mesh.mtls_mode)
        log.info("mesh config v%d applied (%s)", mesh.version, mesh.mtls_mode)

    async def _rebind(self, mode: str) -> None:
        await self._listener.stop(self.config.drain_s)
        for attempt in range(_REBIND_ATTEMPTS):
            try:
                await self._listener.start(mode)
                return
            except TargetError:
                if attempt == _REBIND_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.05)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


async def run_sidecar(config: SidecarConfig) -> None:
    """Run a sidecar until SIGTERM or SIGINT; errors are :class:`TfsverifyError`."""
    sidecar = Sidecar(config, load_mesh(config.mesh_config))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, sidecar.stop)
    await sidecar.run()
