"""Istio faults and canary weights, by patching the serving VirtualService, undoably.

Before the first change tfsverify copies the VirtualService's ``spec`` into the annotation
``tfsverify.io/snapshot`` on the same object; later changes keep that first copy. Restoring
puts the copied spec back exactly and removes the annotation, so the object is as it was
before the run, even when the process that changed it died: ``tfsverify recover`` finds the
annotation on the cluster and needs no local state.

Patches are JSON patches that first ``test`` the ``resourceVersion`` read, so a change that
somebody else made in between fails (HTTP 409) instead of being overwritten.

Faults follow Istio's ``HTTPFaultInjection``: ``abort.grpcStatus`` (a status *name*, ALL
CAPS) and ``delay.fixedDelay``, each with an explicit ``percentage.value`` (Istio faults
nothing when the percentage is missing).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from tfsverify.errors import BadInput, TargetError
from tfsverify.targets.base import GrpcFault
from tfsverify.targets.kubernetes.client import Kube, content_type
from tfsverify.targets.kubernetes.config import KubeSettings

SNAPSHOT = "tfsverify.io/snapshot"
GROUP, VERSION, PLURAL = "networking.istio.io", "v1", "virtualservices"
_RESOURCE = "virtualservices.networking.istio.io"
_SNAPSHOT_POINTER = "/metadata/annotations/" + SNAPSHOT.replace("~", "~0").replace("/", "~1")

Announce = Callable[[str], None]


def istio_fault(fault: GrpcFault) -> dict[str, Any]:
    """The ``HTTPRoute.fault`` object for ``fault`` (empty when it faults nothing)."""
    spec: dict[str, Any] = {}
    if fault.abort_status and fault.abort_pct > 0:
        if not fault.abort_status.isupper():
            raise BadInput(f"abort status {fault.abort_status!r}: Istio wants the gRPC status "
                           "name in capitals, e.g. UNAVAILABLE")
        spec["abort"] = {"grpcStatus": fault.abort_status,
                         "percentage": {"value": float(fault.abort_pct)}}
    if fault.delay_ms > 0 and fault.delay_pct > 0:
        spec["delay"] = {"fixedDelay": f"{fault.delay_ms / 1000:g}s",
                         "percentage": {"value": float(fault.delay_pct)}}
    return spec


def read(kube: Kube, settings: KubeSettings) -> dict[str, Any]:
    return kube.call("get", _RESOURCE, settings.namespace,
                     kube.custom.get_namespaced_custom_object,
                     GROUP, VERSION, settings.namespace, PLURAL, settings.virtual_service)


def _route(spec: dict[str, Any], name: str, vs_name: str) -> dict[str, Any]:
    routes = spec.get("http") or []
    if not routes:
        raise TargetError(f"VirtualService {vs_name} has no http route to fault")
    named = [r for r in routes if r.get("name") == name]
    route: dict[str, Any] = named[0] if named else routes[0]
    return route


def with_fault(spec: dict[str, Any], fault: GrpcFault, route: str, vs_name: str) -> dict[str, Any]:
    """A copy of ``spec`` whose route carries ``fault`` (or none, for an empty fault)."""
    changed = copy.deepcopy(spec)
    target = _route(changed, route, vs_name)
    wanted = istio_fault(fault)
    if wanted:
        target["fault"] = wanted
    else:
        target.pop("fault", None)
    return changed


def with_canary_weight(spec: dict[str, Any], weight_pct: int, route: str,
                       vs_name: str) -> dict[str, Any]:
    """A copy of ``spec`` sending ``weight_pct`` % to subset ``canary``, the rest to the others."""
    if not 0 <= weight_pct <= 100:
        raise BadInput(f"canary weight {weight_pct}: must be between 0 and 100")
    changed = copy.deepcopy(spec)
    destinations = _route(changed, route, vs_name).get("route") or []
    canary = [d for d in destinations if (d.get("destination") or {}).get("subset") == "canary"]
    others = [d for d in destinations if d not in canary]
    if not canary or not others:
        raise TargetError(f"VirtualService {vs_name}: route {route!r} needs a canary and a "
                          "stable destination (deploy the canary component)")
    canary[0]["weight"] = weight_pct
    for extra in canary[1:]:
        extra["weight"] = 0
    others[0]["weight"] = 100 - weight_pct
    for extra in others[1:]:
        extra["weight"] = 0
    return changed


def _patch(kube: Kube, settings: KubeSettings, operations: list[dict[str, Any]]) -> None:
    method = kube.custom.patch_namespaced_custom_object
    extra = content_type(method, "application/json-patch+json")
    kube.call("patch", _RESOURCE, settings.namespace, method, GROUP, VERSION,
              settings.namespace, PLURAL, settings.virtual_service, operations, **extra)


def change(kube: Kube, settings: KubeSettings, edit: Callable[[dict[str, Any]], dict[str, Any]],
           what: str, announce: Announce) -> list[str]:
    """Replace the spec with ``edit(spec)``, snapshotting the original first."""
    current = read(kube, settings)
    meta = current.get("metadata") or {}
    spec = current.get("spec") or {}
    new_spec = edit(spec)
    touched = [f"VirtualService/{settings.virtual_service}"]
    if settings.dry_run:
        announce(f"dry-run: would patch VirtualService {settings.namespace}/"
                 f"{settings.virtual_service}: {what} (snapshot in {SNAPSHOT})")
        return touched
    annotations = dict(meta.get("annotations") or {})
    annotations.setdefault(SNAPSHOT, json.dumps(spec, sort_keys=True, separators=(",", ":")))
    _patch(kube, settings, [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
        {"op": "replace", "path": "/spec", "value": new_spec},
    ])
    return touched


def restore(kube: Kube, settings: KubeSettings, announce: Announce) -> list[str]:
    """Put the snapshotted spec back exactly; [] when there is no snapshot (nothing to undo)."""
    current = read(kube, settings)
    meta = current.get("metadata") or {}
    snapshot = (meta.get("annotations") or {}).get(SNAPSHOT)
    if snapshot is None:
        return []
    try:
        original = json.loads(snapshot)
    except ValueError as exc:
        raise TargetError(f"VirtualService {settings.virtual_service}: the annotation "
                          f"{SNAPSHOT} is not JSON; restore the spec by hand") from exc
    touched = [f"VirtualService/{settings.virtual_service}"]
    if settings.dry_run:
        announce(f"dry-run: would restore VirtualService {settings.namespace}/"
                 f"{settings.virtual_service} from its {SNAPSHOT} annotation")
        return touched
    _patch(kube, settings, [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")},
        {"op": "replace", "path": "/spec", "value": original},
        {"op": "remove", "path": _SNAPSHOT_POINTER},
    ])
    return touched
