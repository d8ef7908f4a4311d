"""The load engine as a Kubernetes Job inside the mesh (manifest generation only).

On a cluster the load must come from a meshed workload: STRICT mTLS refuses anything else,
and the AuthorizationPolicy admits Predict from ``cluster.local/ns/tfsverify/sa/loadgen``
only. :func:`load_job` builds a ``batch/v1`` Job in namespace ``tfsverify`` that runs as
that service account with an Istio sidecar and calls the Service in plaintext (the sidecar
originates mTLS with the pod's identity). The container prints the result JSON
(``tfsverify load --json``) to its log, where the caller collects it
(``kubectl logs job/<name> -c load``).

A classic sidecar never exits, which would keep the Job running forever; so the command
asks the sidecar to quit (``POST 127.0.0.1:15020/quitquitquit``) when the load ends, and
``holdApplicationUntilProxyStarts`` keeps the load from starting before the proxy is ready.
With Istio's native sidecars both are unnecessary but harmless.
"""

from __future__ import annotations

import shlex
from typing import Any

_QUIT_SIDECAR = (
    "python -c \"import urllib.request as u; "
    "u.urlopen(u.Request('http://127.0.0.1:15020/quitquitquit', method='POST'), timeout=5)\""
)


def load_job(
    name: str,
    image: str,
    address: str = "anomaly-detection.tfserving.svc.cluster.local:8500",
    profile: str = "steady",
    rate_rps: float | None = None,
    duration_s: float | None = None,
    namespace: str = "tfsverify",
    service_account: str = "loadgen",
    deadline_s: int = 3600,
) -> dict[str, Any]:
    """A Job manifest that runs one ``tfsverify load`` from inside the mesh."""
    load = ["tfsverify", "load", "--profile", profile, "--address", address, "--plaintext",
            "--json"]
    if rate_rps is not None:
        load += ["--rate", f"{rate_rps:g}"]
    if duration_s is not None:
        load += ["--duration", f"{duration_s:g}"]
    script = f"{shlex.join(load)}; rc=$?; {_QUIT_SIDECAR} || true; exit $rc"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/part-of": "tfsverify",
                                "app.kubernetes.io/component": "load"}},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_s,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {
                    "labels": {"app": "tfsverify-load", "sidecar.istio.io/inject": "true"},
                    "annotations": {
                        "proxy.istio.io/config": '{"holdApplicationUntilProxyStarts": true}',
                    },
                },
                "spec": {
                    "serviceAccountName": service_account,
                    "restartPolicy": "Never",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "load",
                        "image": image,
                        "command": ["sh", "-c", script],
                        "securityContext": {"allowPrivilegeEscalation": False,
                                            "capabilities": {"drop": ["ALL"]}},
                        "resources": {"requests": {"cpu": "1", "memory": "512Mi"},
                                      "limits": {"memory": "1Gi"}},
                    }],
                },
            },
        },
    }
