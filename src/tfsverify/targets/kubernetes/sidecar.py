"""Kill a pod's Istio sidecar and wait for the kubelet to restart it.

The sidecar is ``istio-proxy`` either as a regular container (classic injection) or as an
init container with ``restartPolicy: Always`` (Istio's native sidecar mode, Kubernetes
1.29+). chaosk8s' ``exec_in_pods`` looks at ``spec.containers`` only and silently does
nothing for the second; this module handles both.

The kill runs ``pilot-agent request POST quitquitquit`` in the sidecar through the
``pods/exec`` subresource: Envoy exits, pilot-agent exits with it, the container restarts.
It needs no shell or ``kill`` in the proxy image (distroless images have neither). The exec
stream may end without an exit status since the container it runs in dies; success is
therefore judged by the container's restart count going up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from tfsverify.errors import TargetError
from tfsverify.targets.kubernetes.client import Kube
from tfsverify.targets.kubernetes.config import KubeSettings
from tfsverify.targets.kubernetes.objects import SIDECAR, container_restarts, sidecar_kind

KILL_COMMAND = ("pilot-agent", "request", "POST", "quitquitquit")

Announce = Callable[[str], None]


def exec_kill(kube: Kube, settings: KubeSettings, pod: str) -> None:
    """Run :data:`KILL_COMMAND` in ``pod``'s sidecar; TargetError when exec is refused or the
    command exits non-zero."""
    try:
        ws = stream(
            kube.core.connect_get_namespaced_pod_exec, pod, settings.namespace,
            command=list(KILL_COMMAND), container=SIDECAR,
            stderr=True, stdin=False, stdout=True, tty=False,
            _preload_content=False, _request_timeout=kube.timeout_s,
        )
    except ApiException as exc:  # the websocket transport wraps every failure in status 0
        raise kube.translate(exc, "create", "pods/exec", settings.namespace) from exc
    except OSError as exc:
        raise kube.unreachable(exc) from exc
    try:
        ws.run_forever(timeout=settings.sidecar_timeout_s)
        error = ws.read_channel(3)
        stderr = ws.read_stderr() if ws.is_open() else ws.read_channel(2)
    finally:
        ws.close()
    if error and "Success" not in error:
        raise TargetError(f"kill of {pod}/{SIDECAR} failed: {error.strip()} {stderr.strip()}")


def kill(kube: Kube, settings: KubeSettings, read_pod: Callable[[str], dict[str, Any]],
         pod: str, announce: Announce) -> list[str]:
    """Kill the sidecar of ``pod`` and wait until its restart count went up."""
    before = read_pod(pod)
    kind = sidecar_kind(before)
    if kind is None:
        raise TargetError(f"pod {pod} has no {SIDECAR} sidecar (not in the mesh?)")
    touched = [f"{pod}/{SIDECAR}"]
    if settings.dry_run:
        announce(f"dry-run: would exec {' '.join(KILL_COMMAND)} in {settings.namespace}/{pod} "
                 f"container {SIDECAR} ({kind} sidecar)")
        return touched
    restarts_before = container_restarts(before, SIDECAR)
    exec_kill(kube, settings, pod)
    deadline = time.monotonic() + settings.sidecar_timeout_s
    while container_restarts(read_pod(pod), SIDECAR) <= restarts_before:
        if time.monotonic() + settings.poll_s > deadline:
            raise TargetError(f"{pod}/{SIDECAR} did not restart within "
                              f"{settings.sidecar_timeout_s:g} s of the kill")
        time.sleep(settings.poll_s)
    return touched
