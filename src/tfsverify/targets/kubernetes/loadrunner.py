"""Run the in-mesh load Job: create it, wait for its pod, read its log, delete it.

:class:`LoadJobRunner` is what a load that must come from inside the mesh needs from the
cluster (:mod:`tfsverify.targets.kubernetes.loadjob` builds the manifest). It returns the
pod's log as text; turning that into results is the load package's business
(:mod:`tfsverify.load.stream`), since targets do not import it.

Permissions it uses, in the load namespace (``tfsverify``): ``jobs.batch`` create, get,
delete; ``pods`` list, get; ``pods/log`` get. A pod that cannot start (image pull failure,
bad configuration, crash) is one TargetError naming the container and the reason, as soon
as the kubelet reports it; a pod that is still not Running after the start timeout is one
naming what it waits for. In dry-run mode :meth:`create` prints the Job and creates nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client as kube_client

from tfsverify.errors import TargetError
from tfsverify.targets.kubernetes.client import Kube, KubeNotFound
from tfsverify.targets.kubernetes.config import KubeSettings
from tfsverify.targets.kubernetes.loadjob import load_job

# container waiting reasons that do not go away by waiting
CANNOT_START = frozenset({
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
    "CrashLoopBackOff",
})

_REFUSED = (400, 401, 403, 404, 409, 422)  # answers that mean "not created"


@dataclass(frozen=True)
class JobPod:
    """The load Job's pod as the runner sees it."""

    name: str
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    problem: str | None  # why it cannot run, when the kubelet says so
    waiting_for: str  # what a Pending pod waits for, for the timeout message


def job_pod(pod: dict[str, Any]) -> JobPod:
    """Read a pod object: its phase, and a reason it cannot start if one is reported."""
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    problem, waiting = None, ""
    for container in [*(status.get("initContainerStatuses") or []),
                      *(status.get("containerStatuses") or [])]:
        state = container.get("state") or {}
        reason = (state.get("waiting") or {}).get("reason")
        message = (state.get("waiting") or {}).get("message") or ""
        if reason in CANNOT_START and problem is None:
            problem = f"container {container.get('name')}: {reason}" + (
                f" ({message})" if message else "")
        elif reason and not waiting:
            waiting = f"container {container.get('name')} {reason}"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            why = condition.get("message") or condition.get("reason")
            waiting = waiting or f"scheduling: {why}"
    if phase == "Failed" and problem is None:
        problem = f"the pod failed ({status.get('reason') or 'see its log'})"
    return JobPod(str(pod["metadata"]["name"]), phase, problem, waiting or "nothing reported")


class _Text:
    """A raw log response made to look like JSON (``{"text": ...}``) for :meth:`Kube.call`."""

    def __init__(self, response: Any) -> None:
        self.status = int(getattr(response, "status", 200))
        self.reason = getattr(response, "reason", "")
        data = response.data
        if 200 <= self.status <= 299:
            data = json.dumps({"text": data.decode("utf-8", "replace")}).encode()
        self.data = data


class LoadJobRunner:
    """One load Job: :meth:`create`, :meth:`wait_running`, :meth:`log`, :meth:`delete`."""

    def __init__(self, kube: Kube, settings: KubeSettings, manifest: dict[str, Any],
                 announce: Callable[[str], None]) -> None:
        self.kube = kube
        self.settings = settings
        self.manifest = manifest
        self.announce = announce
        self.name = str(manifest["metadata"]["name"])
        self.namespace = str(manifest["metadata"]["namespace"])
        self.batch = kube_client.BatchV1Api(kube.api)
        self.created = False
        self.pod_name: str | None = None

    @property
    def dry_run(self) -> bool:
        return self.settings.dry_run

    def describe(self) -> str:
        spec = self.manifest["spec"]["template"]["spec"]
        container = spec["containers"][0]
        return (f"Job {self.namespace}/{self.name} (image {container['image']}, service account "
                f"{spec['serviceAccountName']}): {container['command'][-1]}")

    def create(self) -> None:
        """Create the Job (dry run: print it instead)."""
        if self.dry_run:
            self.announce(f"dry-run: would create {self.describe()}")
            return
        self.created = True  # until the server says it refused: a timeout may have created it
        try:
            self.kube.call("create", "jobs.batch", self.namespace,
                           self.batch.create_namespaced_job, self.namespace, self.manifest)
        except TargetError as exc:
            if getattr(exc.__cause__, "status", None) in _REFUSED:
                self.created = False
            raise

    def pod(self) -> JobPod | None:
        """The Job's pod (the newest, should there be several), None before it exists."""
        found = self.kube.call("list", "pods", self.namespace,
                               self.kube.core.list_namespaced_pod, self.namespace,
                               label_selector=f"job-name={self.name}").get("items") or []
        if not found:
            return None
        newest = max(found, key=lambda p: p["metadata"].get("creationTimestamp") or "")
        pod = job_pod(newest)
        self.pod_name = pod.name
        return pod

    def wait_running(self, timeout_s: float) -> JobPod:
        """Wait until the pod runs (or already ended); TargetError naming what is missing."""
        deadline = time.monotonic() + timeout_s
        while True:
            pod = self.pod()
            if pod is not None and pod.problem is not None:
                raise TargetError(f"the load Job {self.namespace}/{self.name} cannot run: "
                                  f"pod {pod.name}: {pod.problem}")
            if pod is not None and pod.phase in ("Running", "Succeeded"):
                return pod
            if time.monotonic() >= deadline:
                what = ("no pod was created (check the Job's events: quota, service account "
                        f"{self.manifest['spec']['template']['spec']['serviceAccountName']}, "
                        "admission)") if pod is None else (
                    f"pod {pod.name} is {pod.phase}, waiting for {pod.waiting_for}")
                raise TargetError(f"the load Job {self.namespace}/{self.name} is not running "
                                  f"after {timeout_s:g} s: {what}")
            time.sleep(min(self.settings.poll_s, max(0.0, deadline - time.monotonic())))

    def log(self, tail_lines: int | None = None) -> str:
        """The ``load`` container's log so far (the last ``tail_lines`` lines if given)."""
        if self.pod_name is None and self.pod() is None:
            raise TargetError(f"the load Job {self.namespace}/{self.name} has no pod to read")
        extra = {"tail_lines": tail_lines} if tail_lines is not None else {}
        read = self.kube.core.read_namespaced_pod_log
        body = self.kube.call("get", "pods/log", self.namespace,
                              lambda *a, **kw: _Text(read(*a, **kw)),
                              self.pod_name, self.namespace, container="load", **extra)
        return str(body.get("text") or "")

    def delete(self) -> None:
        """Delete the Job and, in the background, its pod; nothing if it was not created."""
        if not self.created:
            return
        with contextlib.suppress(KubeNotFound):  # already gone: fine
            self.kube.call("delete", "jobs.batch", self.namespace,
                           self.batch.delete_namespaced_job, self.name, self.namespace,
                           propagation_policy="Background")
        self.created = False


def job_runner(kube: Kube, settings: KubeSettings, announce: Callable[[str], None], name: str,
               profile_name: str, profile_document: str, rate_rps: float,
               duration_s: float) -> LoadJobRunner:
    """The runner of a load Job for the profile ``profile_document`` (YAML or JSON text) at
    ``rate_rps`` for at most ``duration_s`` measured seconds, from the settings' image,
    namespace and service account; the Job is bounded by that plus the start timeout."""
    manifest = load_job(
        name, settings.load_image, settings.service_address, profile=profile_name,
        rate_rps=rate_rps, duration_s=duration_s, namespace=settings.load_namespace,
        service_account=settings.load_service_account, profile_document=profile_document,
        deadline_s=int(duration_s + settings.load_start_timeout_s) + 300,
    )
    return LoadJobRunner(kube, settings, manifest, announce)
