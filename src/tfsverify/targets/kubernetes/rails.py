"""Safety rails: checks that run before the Kubernetes target touches anything.

- the kube context must be on the allow-list (names or shell patterns; ``kind-*`` unless
  configured), checked from the kubeconfig file alone, before any request is sent;
- the namespace must carry ``tfsverify.io/chaos=allowed``; faults check it again before
  each change, so removing the label stops a running experiment at its next action;
- no fault may leave fewer ready serving pods than the PodDisruptionBudget requires.

A refusal of the first two is :class:`~tfsverify.errors.BadInput` (exit 2): the user pointed
the suite at something it must not touch. A refusal of the third is
:class:`~tfsverify.errors.TargetError` (exit 3): the deployment is too degraded right now.
"""

from __future__ import annotations

import math
from fnmatch import fnmatchcase
from typing import Any

from kubernetes import config as kube_config

from tfsverify.errors import BadInput, TargetError
from tfsverify.targets.kubernetes.config import KubeSettings

CHAOS_LABEL = "tfsverify.io/chaos"
CHAOS_LABEL_VALUE = "allowed"


def resolve_context(settings: KubeSettings) -> str:
    """The context that will be used, read from the kubeconfig file (no request)."""
    if not settings.kubeconfig.is_file():
        raise BadInput(f"kubeconfig {settings.kubeconfig} does not exist (set KUBECONFIG)")
    try:
        contexts, active = kube_config.list_kube_config_contexts(str(settings.kubeconfig))
    except (kube_config.ConfigException, OSError, ValueError) as exc:
        raise BadInput(f"kubeconfig {settings.kubeconfig}: {exc}") from exc
    names = [c["name"] for c in contexts or []]
    if settings.context is not None:
        if settings.context not in names:
            raise BadInput(f"kube context {settings.context!r} is not in {settings.kubeconfig}")
        return settings.context
    if not active:
        raise BadInput(f"{settings.kubeconfig} has no current-context (set TFSVERIFY_KUBE_CONTEXT)")
    return str(active["name"])


def check_context_allowed(context: str, allowed: tuple[str, ...]) -> None:
    """BadInput unless ``context`` matches a name or pattern of ``allowed``."""
    if any(fnmatchcase(context, pattern) for pattern in allowed):
        return
    shown = ",".join(allowed) or "(empty)"
    raise BadInput(
        f"kube context {context!r} is not on the allow-list ({shown}); add it to "
        "TFSVERIFY_KUBE_CONTEXTS_ALLOWED to let tfsverify act on that cluster"
    )


def check_namespace_opted_in(namespace: dict[str, Any]) -> None:
    """BadInput unless the namespace object carries ``tfsverify.io/chaos=allowed``."""
    meta = namespace.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(CHAOS_LABEL) != CHAOS_LABEL_VALUE:
        raise BadInput(
            f"namespace {meta.get('name')!r} is not opted in: it lacks the label "
            f"{CHAOS_LABEL}={CHAOS_LABEL_VALUE}"
        )


def _scaled(value: int | str, total: int) -> int:
    """An IntOrString of a PDB scaled to ``total`` (percentages round up, like Kubernetes)."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        return math.ceil(total * float(text[:-1]) / 100)
    return int(text)


def desired_healthy(pdb_spec: dict[str, Any], replicas: int) -> int:
    """Ready pods a PodDisruptionBudget spec requires of ``replicas`` expected pods."""
    if pdb_spec.get("minAvailable") is not None:
        return _scaled(pdb_spec["minAvailable"], replicas)
    if pdb_spec.get("maxUnavailable") is not None:
        return max(0, replicas - _scaled(pdb_spec["maxUnavailable"], replicas))
    return 0


def check_above_budget(taking: int, ready: int, min_available: int, what: str) -> None:
    """TargetError when taking ``taking`` ready pods leaves fewer than ``min_available``."""
    if ready - taking < min_available:
        raise TargetError(
            f"refusing to {what}: {ready} ready, the PodDisruptionBudget requires "
            f"{min_available}; taking {taking} would go below it"
        )
