"""Settings of the Kubernetes target, read once from the environment.

=================================  ==========================================================
``KUBECONFIG``                     the kubeconfig file (first of a list); ``~/.kube/config``
``TFSVERIFY_KUBE_CONTEXT``         the context to use; default the kubeconfig's current one
``TFSVERIFY_KUBE_CONTEXTS_ALLOWED`` comma list of context names or shell patterns the suite
                                   may act on; default ``kind-*`` (throwaway kind clusters)
``TFSVERIFY_NAMESPACE``            the serving namespace, default ``tfserving``; it must carry
                                   the label ``tfsverify.io/chaos=allowed``
``TFSVERIFY_KUBE_TIMEOUT_S``       timeout of one API request, default 5
``TFSVERIFY_KUBE_DRAIN_TIMEOUT_S`` how long a drain may wait for evictions and for the moved
                                   pods to be Ready again, default 180
``TFSVERIFY_DRY_RUN``              ``1``: print one line per change a fault would make and
                                   change nothing
``TFSVERIFY_KUBE_MODEL_ADDRESS``   host:port for TF Serving's gRPC API (model status, mesh
                                   probes); default the Service's cluster DNS name, which
                                   works from inside the mesh
``TFSVERIFY_STATE_DIR``            where the fault journal lives (default
                                   ``$XDG_STATE_HOME/tfsverify/kubernetes``)
``TFSVERIFY_KUBE_LOAD``            how chaos experiments send their load: ``job`` (default) a
                                   Job in namespace ``tfsverify`` inside the mesh, results read
                                   from its log; ``direct`` in this process (for a runner that
                                   itself runs in a meshed pod as ``loadgen``)
``TFSVERIFY_KUBE_LOAD_IMAGE``      the image of the load Job (holds tfsverify); default
                                   ``ghcr.io/tfsverify/tfsverify-load:dev`` (what
                                   ``scripts/bootstrap.sh images`` builds and loads into kind)
``TFSVERIFY_KUBE_LOAD_START_TIMEOUT_S`` how long the load Job's pod may take to run and
                                   start its load (image pull, sidecar), default 180
=================================  ==========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tfsverify.errors import BadInput

DEFAULT_ALLOWED_CONTEXTS = ("kind-*",)
DEFAULT_LOAD_IMAGE = "ghcr.io/tfsverify/tfsverify-load:dev"
LOAD_MODES = ("job", "direct")


@dataclass(frozen=True)
class KubeSettings:
    """Where the Kubernetes target acts and how carefully."""

    kubeconfig: Path
    context: str | None = None  # None: the kubeconfig's current-context
    allowed_contexts: tuple[str, ...] = DEFAULT_ALLOWED_CONTEXTS
    namespace: str = "tfserving"
    deployment: str = "anomaly-detection"
    service: str = "anomaly-detection"
    virtual_service: str = "anomaly-detection"
    route: str = "predict"  # the VirtualService http route faults go on (else http[0])
    grpc_port: int = 8500
    request_timeout_s: float = 5.0
    drain_timeout_s: float = 180.0
    sidecar_timeout_s: float = 60.0
    poll_s: float = 1.0
    dry_run: bool = False
    model_address: str | None = None
    state_dir: Path | None = None
    load_mode: str = "job"  # "job": a Job inside the mesh; "direct": in this process
    load_image: str = DEFAULT_LOAD_IMAGE
    load_namespace: str = "tfsverify"
    load_service_account: str = "loadgen"
    load_start_timeout_s: float = 180.0

    @property
    def service_address(self) -> str:
        """The Service's in-cluster gRPC address (reached through the caller's sidecar)."""
        return f"{self.service}.{self.namespace}.svc.cluster.local:{self.grpc_port}"


def _positive_s(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name}={raw!r}: not a number of seconds") from None
    if value <= 0:
        raise BadInput(f"{name}={raw!r}: must be positive")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise BadInput(f"{name}={raw!r}: expected 1 or 0")


def settings_from_environment(env: Mapping[str, str] | None = None) -> KubeSettings:
    """Parse the variables above; BadInput for a malformed one. Makes no request."""
    env = os.environ if env is None else env
    kubeconfig_list = env.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    kubeconfig = Path(kubeconfig_list.split(os.pathsep)[0]).expanduser()
    allowed_raw = env.get("TFSVERIFY_KUBE_CONTEXTS_ALLOWED")
    allowed = (
        tuple(c.strip() for c in allowed_raw.split(",") if c.strip())
        if allowed_raw is not None else DEFAULT_ALLOWED_CONTEXTS
    )
    state_home = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    default_state = Path(state_home) / "tfsverify" / "kubernetes"
    state_dir = Path(env.get("TFSVERIFY_STATE_DIR") or default_state)
    return KubeSettings(
        kubeconfig=kubeconfig,
        context=env.get("TFSVERIFY_KUBE_CONTEXT") or None,
        allowed_contexts=allowed,
        namespace=env.get("TFSVERIFY_NAMESPACE") or "tfserving",
        request_timeout_s=_positive_s(env, "TFSVERIFY_KUBE_TIMEOUT_S", 5.0),
        drain_timeout_s=_positive_s(env, "TFSVERIFY_KUBE_DRAIN_TIMEOUT_S", 180.0),
        dry_run=_flag(env, "TFSVERIFY_DRY_RUN"),
        model_address=env.get("TFSVERIFY_KUBE_MODEL_ADDRESS") or None,
        state_dir=state_dir.resolve(),
        load_mode=_load_mode(env),
        load_image=env.get("TFSVERIFY_KUBE_LOAD_IMAGE") or DEFAULT_LOAD_IMAGE,
        load_start_timeout_s=_positive_s(env, "TFSVERIFY_KUBE_LOAD_START_TIMEOUT_S", 180.0),
    )


def _load_mode(env: Mapping[str, str]) -> str:
    raw = (env.get("TFSVERIFY_KUBE_LOAD") or "job").strip().lower()
    if raw not in LOAD_MODES:
        raise BadInput(f"TFSVERIFY_KUBE_LOAD={raw!r}: expected job or direct")
    return raw
