"""A fake Kubernetes API server on loopback, for the Kubernetes target's tests.

It serves, over real HTTP, the resources and verbs the target uses, so the real
``kubernetes`` client library, its serialisation and its error paths run:

=====================================================  ==================================
``/api/v1/namespaces/{ns}``                            GET
``/api/v1/nodes`` and ``/api/v1/nodes/{name}``         LIST, GET, PATCH (merge)
``/api/v1/namespaces/{ns}/pods[/{name}]``              LIST (label and spec.nodeName field
                                                       selectors), GET, DELETE
``.../pods/{name}/eviction``                           POST, with PodDisruptionBudget
                                                       semantics (429 when it would violate)
``.../pods/{name}/exec``                               websocket upgrade; answers Success
                                                       and restarts ``istio-proxy`` for the
                                                       sidecar kill command
``/apis/apps/v1/namespaces/{ns}/deployments/{name}``   GET
``/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets`` LIST
``/apis/discovery.k8s.io/v1/.../endpointslices``       LIST, derived from ready pods
``/apis/networking.istio.io/v1/.../virtualservices/{n}`` GET, PATCH (JSON patch, merge)
``/apis/batch/v1/namespaces/{ns}/jobs[/{name}]``       POST (creates the Job's pod, labelled
                                                       ``job-name``), GET, DELETE (with the
                                                       Job's pods)
``.../pods/{name}/log``                                GET (text; ``container``,
                                                       ``tailLines``)
=====================================================  ==================================

A tiny ReplicaSet controller replaces a deleted or evicted pod of the deployment with a new
one on the schedulable node with the fewest serving pods; it turns Ready ``ready_delay_s``
later (evaluated when read). No watch: the target polls. ``forbid(verb, resource)`` makes a
verb answer 403, as a Role without it would.

The "kubelet" of a Job's pod is ``cluster.kubelet(cluster, pod)``, called once the pod is
created (default: the pod turns Running). Tests make it pull no image, or stream a real
load's lines into ``cluster.logs[pod name]`` (which ``pods/log`` serves).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

SIDECAR_KILL = ["pilot-agent", "request", "POST", "quitquitquit"]
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


class PatchFailed(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def _json_patch(document: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 JSON patch: add, replace, remove, test."""
    doc = copy.deepcopy(document)
    for op in operations:
        *parents, last = _pointer(op["path"])
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
            if node is None:
                raise PatchFailed(422, f"path {op['path']} does not exist")
        key: Any = int(last) if isinstance(node, list) else last
        if op["op"] == "test":
            if node.get(key) != op["value"]:
                raise PatchFailed(409, f"test of {op['path']} failed")
        elif op["op"] in ("add", "replace"):
            if op["op"] == "replace" and key not in node:
                raise PatchFailed(422, f"replace of missing {op['path']}")
            node[key] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            if key not in node:
                raise PatchFailed(422, f"remove of missing {op['path']}")
            del node[key]
        else:
            raise PatchFailed(422, f"unsupported op {op['op']}")
    return doc


def _labels_match(labels: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class FakeCluster:
    """The objects of the fake cluster and the record of every request made to it."""

    def __init__(self, ready_delay_s: float = 0.2) -> None:
        self.lock = threading.RLock()
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.ready_at: dict[str, float] = {}
        self.requests: list[tuple[str, str]] = []
        self.execs: list[dict[str, Any]] = []
        self.forbidden: set[tuple[str, str]] = set()
        self.ready_delay_s = ready_delay_s
        self.logs: dict[str, str] = {}  # pod name -> its log text
        self.kubelet: Callable[[FakeCluster, dict[str, Any]], None] = _run_pod
        self.deleted_jobs: list[str] = []
        self._version = 100
        self._serial = 0

    # store -------------------------------------------------------------------------------
    def put(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.setdefault("metadata", {})
        with self.lock:
            self._version += 1
            meta["resourceVersion"] = str(self._version)
            self.objects[(kind, meta.get("namespace", ""), meta["name"])] = obj

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.get((kind, namespace, name))
            if obj is not None and kind == "pods":
                self._settle(obj)
            return copy.deepcopy(obj) if obj is not None else None

    def items(self, kind: str, namespace: str = "") -> list[dict[str, Any]]:
        with self.lock:
            found = [o for (k, ns, _), o in self.objects.items()
                     if k == kind and (not namespace or ns == namespace)]
            for obj in found:
                if kind == "pods":
                    self._settle(obj)
            return copy.deepcopy(sorted(found, key=lambda o: o["metadata"]["name"]))

    def forbid(self, verb: str, resource: str) -> None:
        self.forbidden.add((verb, resource))

    def mutations(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET" or p.endswith("/exec")]

    # the Job controller -------------------------------------------------------------------
    def create_job(self, namespace: str, job: dict[str, Any]) -> dict[str, Any]:
        """Store the Job and make its one pod (Pending), then let the kubelet run it."""
        name = job["metadata"]["name"]
        template = job["spec"]["template"]
        with self.lock:
            job["metadata"]["namespace"] = namespace
            self.put("jobs", job)
            self._serial += 1
            labels = {**(template["metadata"].get("labels") or {}), "job-name": name,
                      "batch.kubernetes.io/job-name": name}
            pod = {"metadata": {"name": f"{name}-p{self._serial}", "namespace": namespace,
                                "labels": labels,
                                "creationTimestamp": f"2026-01-01T00:00:{self._serial:02d}Z"},
                   "spec": copy.deepcopy(template["spec"]),
                   "status": {"phase": "Pending"}}
            self.put("pods", pod)
            self.logs[pod["metadata"]["name"]] = ""
        self.kubelet(self, pod)
        return job

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete the Job and its pods (what background propagation ends in)."""
        with self.lock:
            self.objects.pop(("jobs", namespace, name), None)
            for key, obj in list(self.objects.items()):
                if key[0] == "pods" and key[1] == namespace and (
                        obj["metadata"].get("labels") or {}).get("job-name") == name:
                    del self.objects[key]
            self.deleted_jobs.append(name)

    def set_pod_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        with self.lock:
            pod = self.objects.get(("pods", namespace, name))
            if pod is not None:
                pod["status"] = status

    def append_log(self, pod: str, text: str) -> None:
        with self.lock:
            self.logs[pod] = self.logs.get(pod, "") + text

    # the ReplicaSet controller -------------------------------------------------------------
    def _settle(self, pod: dict[str, Any]) -> None:
        due = self.ready_at.get(pod["metadata"]["name"])
        if due is not None and time.monotonic() >= due:
            pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
            del self.ready_at[pod["metadata"]["name"]]

    def remove_pod(self, namespace: str, name: str) -> None:
        with self.lock:
            pod = self.objects.pop(("pods", namespace, name))
            owner = (pod["metadata"].get("labels") or {}).get("app")
            if owner is None:
                return
            nodes = [n for n in self.items("nodes") if not n["spec"].get("unschedulable")]
            if not nodes:
                return
            load = {n["metadata"]["name"]: 0 for n in nodes}
            for other in self.items("pods", namespace):
                node = other["spec"].get("nodeName")
                if node in load:
                    load[node] += 1
            self._serial += 1
            new = copy.deepcopy(pod)
            new_name = f"{name.rsplit('-', 1)[0]}-r{self._serial}"
            new["metadata"] = {"name": new_name, "namespace": namespace,
                               "labels": pod["metadata"].get("labels", {})}
            new["spec"]["nodeName"] = min(load, key=lambda n: (load[n], n))
            new["status"] = {"phase": "Running", "podIP": f"10.244.9.{self._serial}",
                             "conditions": [{"type": "Ready", "status": "False"}],
                             "containerStatuses": [
                                 {**s, "restartCount": 0}
                                 for s in pod["status"].get("containerStatuses", [])],
                             "initContainerStatuses": [
                                 {**s, "restartCount": 0}
                                 for s in pod["status"].get("initContainerStatuses", [])]}
            self.put("pods", new)
            self.ready_at[new_name] = time.monotonic() + self.ready_delay_s

    def eviction_allowed(self, namespace: str, pod: dict[str, Any]) -> bool:
        """The disruption controller's rule for one eviction."""
        labels = pod["metadata"].get("labels") or {}
        for pdb in self.items("poddisruptionbudgets", namespace):
            spec = pdb["spec"]
            match = spec.get("selector", {}).get("matchLabels", {})
            if not all(labels.get(k) == v for k, v in match.items()):
                continue
            if (spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow"
                    and not _ready(pod)):
                continue
            covered = [p for p in self.items("pods", namespace)
                       if all((p["metadata"].get("labels") or {}).get(k) == v
                              for k, v in match.items())]
            expected = sum(d["spec"]["replicas"] for d in self.items("deployments", namespace)
                           if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                                  for k, v in match.items()))
            healthy = sum(1 for p in covered if _ready(p))
            if "minAvailable" in spec:
                desired = int(spec["minAvailable"])
            else:
                desired = expected - int(spec.get("maxUnavailable", 0))
            if healthy - 1 < desired:
                return False
        return True

    def derived_slices(self, namespace: str, service: str) -> list[dict[str, Any]]:
        svc = self.get("services", namespace, service)
        if svc is None:
            return []
        selector = svc["spec"]["selector"]
        endpoints = [
            {"addresses": [p["status"]["podIP"]], "conditions": {"ready": _ready(p)},
             "nodeName": p["spec"].get("nodeName"), "targetRef": {"name": p["metadata"]["name"]}}
            for p in self.items("pods", namespace)
            if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            and p["status"].get("podIP")
        ]
        return [{"metadata": {"name": f"{service}-abcde", "namespace": namespace,
                              "labels": {"kubernetes.io/service-name": service}},
                 "addressType": "IPv4", "endpoints": endpoints,
                 "ports": [{"name": p["name"], "port": p["targetPort"]}
                           for p in svc["spec"]["ports"]]}]


def _run_pod(cluster: FakeCluster, pod: dict[str, Any]) -> None:
    """The default kubelet: the Job's pod runs at once (and logs nothing)."""
    meta = pod["metadata"]
    cluster.set_pod_status(meta["namespace"], meta["name"], running_status(pod))


def running_status(pod: dict[str, Any]) -> dict[str, Any]:
    return {"phase": "Running", "containerStatuses": [
        {"name": c["name"], "ready": True, "restartCount": 0, "state": {"running": {}}}
        for c in pod["spec"].get("containers", [])]}


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


_ROUTES: list[tuple[str, str, bool]] = [
    # (regex, kind, namespaced); the kind is the resource name used in RBAC messages
    (r"/api/v1/namespaces/(?P<name>[^/]+)", "namespaces", False),
    (r"/api/v1/nodes(?:/(?P<name>[^/]+))?", "nodes", False),
    (r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/(?P<sub>eviction|exec|log)",
     "pods", True),
    (r"/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs(?:/(?P<name>[^/]+))?", "jobs", True),
    (r"/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+))?", "pods", True),
    (r"/api/v1/namespaces/(?P<ns>[^/]+)/services(?:/(?P<name>[^/]+))?", "services", True),
    (r"/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments(?:/(?P<name>[^/]+))?",
     "deployments", True),
    (r"/apis/policy/v1/namespaces/(?P<ns>[^/]+)/poddisruptionbudgets(?:/(?P<name>[^/]+))?",
     "poddisruptionbudgets", True),
    (r"/apis/discovery.k8s.io/v1/namespaces/(?P<ns>[^/]+)/endpointslices", "endpointslices",
     True),
    (r"/apis/networking.istio.io/v1/namespaces/(?P<ns>[^/]+)/virtualservices"
     r"(?:/(?P<name>[^/]+))?", "virtualservices", True),
]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster: FakeCluster

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def _route(self) -> tuple[str, dict[str, str], dict[str, list[str]]] | None:
        url = urlparse(self.path)
        for pattern, kind, _ in _ROUTES:
            match = re.fullmatch(pattern, url.path)
            if match:
                return kind, {k: v for k, v in match.groupdict().items() if v}, parse_qs(url.query)
        return None

    def _handle(self, method: str) -> None:
        cluster = self.cluster
        with cluster.lock:
            cluster.requests.append((method, urlparse(self.path).path))
        routed = self._route()
        if routed is None:
            self._send(404, _status(404, "NotFound", f"no route {self.path}"))
            return
        kind, args, query = routed
        ns, name, sub = args.get("ns", ""), args.get("name"), args.get("sub")
        verb = {"GET": "get" if name else "list", "PATCH": "patch", "DELETE": "delete",
                "POST": "create"}[method]
        resource = f"{kind}/{sub}" if sub else kind
        if sub:
            verb = "get" if sub == "log" else "create"
        if (verb, resource) in cluster.forbidden:
            self._send(403, _status(403, "Forbidden", f"cannot {verb} {resource}"))
            return
        if kind == "namespaces":
            name, ns = ns or name, ""
        try:
            self._dispatch(method, kind, ns, name, sub, query)
        except PatchFailed as exc:
            reason = "Conflict" if exc.code == 409 else "Invalid"
            self._send(exc.code, _status(exc.code, reason, str(exc)))

    def _dispatch(self, method: str, kind: str, ns: str, name: str | None, sub: str | None,
                  query: dict[str, list[str]]) -> None:
        cluster = self.cluster
        if sub == "exec":
            self._exec(ns, name or "", query)
            return
        if method == "POST" and name is None and kind == "jobs":
            self._send(201, cluster.create_job(ns, self._body()))
            return
        if sub == "log":
            self._log(ns, name or "", query)
            return
        if name is None and method == "GET":
            if kind == "endpointslices":
                service = query.get("labelSelector", [""])[0].partition("=")[2]
                items = cluster.derived_slices(ns, service)
            else:
                items = cluster.items(kind, ns)
            selector = query.get("labelSelector", [None])[0]
            if kind != "endpointslices":
                items = [i for i in items
                         if _labels_match(i["metadata"].get("labels") or {}, selector)]
            field = query.get("fieldSelector", [""])[0]
            if field.startswith("spec.nodeName="):
                node = field.partition("=")[2]
                items = [i for i in items if i["spec"].get("nodeName") == node]
            self._send(200, {"kind": "List", "apiVersion": "v1", "metadata": {},
                             "items": items})
            return
        current = cluster.get(kind, ns, name or "")
        if current is None:
            self._send(404, _status(404, "NotFound", f'{kind} "{name}" not found'))
            return
        if method == "GET":
            self._send(200, current)
        elif method == "PATCH":
            self._patch(kind, current)
        elif method == "DELETE":
            self._body()
            if kind == "jobs":
                cluster.delete_job(ns, name or "")
            else:
                cluster.remove_pod(ns, name or "")
            self._send(200, current)
        elif sub == "eviction":
            self._body()
            with cluster.lock:
                if not cluster.eviction_allowed(ns, current):
                    self._send(429, _status(429, "TooManyRequests", "Cannot evict pod as it "
                                            "would violate the pod's disruption budget."))
                    return
                cluster.remove_pod(ns, name or "")
            self._send(201, _status(201, "", "") | {"status": "Success"})

    def _patch(self, kind: str, current: dict[str, Any]) -> None:
        body = self._body()
        content_type = self.headers.get("Content-Type", "")
        if "json-patch" in content_type:
            if not isinstance(body, list):
                raise PatchFailed(400, "a JSON patch must be a list")
            patched = _json_patch(current, body)
        elif "merge-patch" in content_type or "strategic-merge-patch" in content_type:
            if not isinstance(body, dict):
                raise PatchFailed(400, "a merge patch must be an object")
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise PatchFailed(409, "resourceVersion mismatch")
            patched = _merge(current, body)
        else:
            raise PatchFailed(415, f"unsupported patch type {content_type}")
        with self.cluster.lock:
            self.cluster.put(kind, patched)
        self._send(200, patched)

    def _log(self, ns: str, name: str, query: dict[str, list[str]]) -> None:
        container = query.get("container", [""])[0]
        with self.cluster.lock:
            pod = self.cluster.objects.get(("pods", ns, name))
            text = self.cluster.logs.get(name, "")
        names = [c["name"] for c in pod["spec"].get("containers", [])] if pod else []
        if pod is None or container not in names:
            self._send(404 if pod is None else 400,
                       _status(400, "BadRequest", f"pod {name} or container {container} missing"))
            return
        tail = query.get("tailLines", [None])[0]
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail):]) if int(tail) > 0 else ""
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _exec(self, ns: str, name: str, query: dict[str, list[str]]) -> None:
        command, container = query.get("command", []), query.get("container", [""])[0]
        with self.cluster.lock:
            self.cluster.execs.append({"pod": name, "container": container,
                                       "command": command})
            pod = self.cluster.objects.get(("pods", ns, name))
            names = [c["name"] for c in pod["spec"].get("containers", [])
                     + pod["spec"].get("initContainers", [])] if pod else []
            if pod is None or container not in names:
                self._send(400, _status(400, "BadRequest", f"container {container} not found"))
                return
            if command == SIDECAR_KILL:
                for status in (pod["status"].get("containerStatuses", [])
                               + pod["status"].get("initContainerStatuses", [])):
                    if status["name"] == container:
                        status["restartCount"] = status.get("restartCount", 0) + 1
        accept = base64.b64encode(hashlib.sha1(
            (self.headers["Sec-WebSocket-Key"] + _WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
        self.end_headers()
        payload = b"\x03" + json.dumps({"metadata": {}, "status": "Success"}).encode()
        self.wfile.write(bytes([0x82, len(payload)]) + payload + bytes([0x88, 0x00]))
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_POST(self) -> None:
        self._handle("POST")


class FakeApiServer:
    """The fake API server on 127.0.0.1, one thread per connection; a context manager."""

    def __init__(self, cluster: FakeCluster) -> None:
        handler = type("Handler", (_Handler,), {"cluster": cluster})
        self.cluster = cluster
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def write_kubeconfig(path: Path, server: str, context: str = "kind-fake",
                     namespace: str = "tfserving") -> Path:
    """A kubeconfig with one context pointing at ``server``."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "fake", "user": {"token": "fake-token"}}],
        "contexts": [{"name": context,
                      "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
    }))
    return path
