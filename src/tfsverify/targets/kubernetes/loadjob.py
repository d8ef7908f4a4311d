"""The load engine as a Kubernetes Job inside the mesh: the manifest.

On a cluster the load must come from a meshed workload: STRICT mTLS refuses anything else,
and the AuthorizationPolicy admits Predict from ``cluster.local/ns/tfsverify/sa/loadgen``
only. :func:`load_job` builds a ``batch/v1`` Job in namespace ``tfsverify`` that runs as
that service account with an Istio sidecar and calls the Service in plaintext (the sidecar
originates mTLS with the pod's identity). The container streams its results as JSON lines
(``tfsverify load --stream``) to its log, where the caller reads them while it runs
(``kubectl logs job/<name> -c load``; :mod:`tfsverify.targets.kubernetes.loadrunner`).
A profile that is not in the image travels as its YAML text in the environment variable
``TFSVERIFY_LOAD_PROFILE`` and is written to ``/tmp`` before the load starts.

A classic sidecar never exits, which would keep the Job running forever; so the command
asks the sidecar to quit (``POST 127.0.0.1:15020/quitquitquit``) when the load ends, and
``holdApplicationUntilProxyStarts`` keeps the load from starting before the proxy is ready.
With Istio's native sidecars both are unnecessary but harmless.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

PROFILE_VARIABLE = "TFSVERIFY_LOAD_PROFILE"

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
    profile_document: str | None = None,
) -> dict[str, Any]:
    """A Job manifest that runs one ``tfsverify load --stream`` from inside the mesh.

    ``profile`` is a profile file in the image, or, with ``profile_document`` (the profile's
    YAML text), the profile's name. ``duration_s`` is the measured duration (an upper bound
    when the caller stops the load by deleting the Job); ``deadline_s`` bounds the Job.
    """
    env: list[dict[str, str]] = []
    prepare = ""
    if profile_document is not None:
        path = f"/tmp/{re.sub(r'[^A-Za-z0-9_.-]+', '-', profile) or 'profile'}.yaml"
        env.append({"name": PROFILE_VARIABLE, "value": profile_document})
        prepare = f'printf \'%s\\n\' "${PROFILE_VARIABLE}" > {shlex.quote(path)} && '
        profile = path
    load = ["tfsverify", "load", "--profile", profile, "--address", address, "--plaintext",
            "--stream"]
    if rate_rps is not None:
        load += ["--rate", f"{rate_rps:g}"]
    if duration_s is not None:
        load += ["--duration", f"{duration_s:g}"]
    script = f"{prepare}{shlex.join(load)}; rc=$?; {_QUIT_SIDECAR} || true; exit $rc"
    container: dict[str, Any] = {
        "name": "load",
        "image": image,
        "command": ["sh", "-c", script],
        "securityContext": {"allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "1", "memory": "512Mi"},
                      "limits": {"memory": "1Gi"}},
    }
    if env:
        container["env"] = env
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
                    "terminationGracePeriodSeconds": 5,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                },
            },
        },
    }
