"""The Kubernetes API as this package uses it: raw JSON in and out, errors made plain.

Every call goes through :meth:`Kube.call`, which

- sets the request timeout (``TFSVERIFY_KUBE_TIMEOUT_S``) and no retries, so an unreachable
  API server fails within one timeout;
- reads the answer as JSON itself (``_preload_content=False``), so the client library's
  models never reject an object they do not know (custom resources, a newer server);
- translates failures into one line each: 401/403 names the verb and resource the chaos
  runner's Role lacks, a refused connection or a timeout names the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from tfsverify.errors import BadInput, TargetError
from tfsverify.targets.kubernetes.config import KubeSettings


class KubeNotFound(TargetError):
    """The object asked for does not exist."""


class KubeConflict(TargetError):
    """The object changed between our read and our write (HTTP 409)."""


class KubeTooManyRequests(TargetError):
    """The API server refused for now (HTTP 429): an eviction the disruption budget blocks."""


class Kube:
    """An API client bound to one context, with request timeout and error translation."""

    def __init__(self, settings: KubeSettings, context: str) -> None:
        self.context = context
        self.timeout_s = settings.request_timeout_s
        configuration = kube_client.Configuration()
        try:
            kube_config.load_kube_config(
                config_file=str(settings.kubeconfig), context=context,
                client_configuration=configuration, persist_config=False,
            )
        except (kube_config.ConfigException, OSError, ValueError) as exc:
            raise BadInput(f"kubeconfig {settings.kubeconfig}, context {context}: {exc}") from exc
        configuration.retries = 0  # one try: an unreachable server fails within the timeout
        self.server = str(configuration.host)
        self.api = kube_client.ApiClient(configuration)
        self.core = kube_client.CoreV1Api(self.api)
        self.apps = kube_client.AppsV1Api(self.api)
        self.policy = kube_client.PolicyV1Api(self.api)
        self.discovery = kube_client.DiscoveryV1Api(self.api)
        self.custom = kube_client.CustomObjectsApi(self.api)

    def call(self, verb: str, resource: str, namespace: str | None,
             method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one API method and return the decoded JSON body.

        ``verb``/``resource``/``namespace`` name the permission for error messages
        (e.g. ``"create", "pods/eviction", "tfserving"``).
        """
        kwargs.setdefault("_request_timeout", self.timeout_s)
        try:
            response = method(*args, _preload_content=False, **kwargs)
            status = int(getattr(response, "status", 200))
            body = response.data
            if not 200 <= status <= 299:
                failure = ApiException(status=status, reason=getattr(response, "reason", ""))
                failure.body = body
                raise failure
        except ApiException as exc:
            raise self.translate(exc, verb, resource, namespace) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(exc) from exc
        if not body:
            return {}
        decoded: dict[str, Any] = json.loads(body)
        return decoded

    def unreachable(self, exc: BaseException) -> TargetError:
        reason = type(exc).__name__
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            reason = type(exc.reason).__name__
        return TargetError(
            f"the Kubernetes API server at {self.server} is unreachable (context "
            f"{self.context}, {reason}, timeout {self.timeout_s:g} s)"
        )

    def translate(self, exc: ApiException, verb: str, resource: str,
                  namespace: str | None) -> TargetError:
        """One line for an API error; the subclass tells callers what kind it was."""
        where = f" in namespace {namespace}" if namespace else ""
        role = "Role" if namespace else "ClusterRole"
        message = _status_message(exc)
        if exc.status in (401, 403):
            return TargetError(
                f"forbidden: cannot {verb} {resource}{where} (the chaos runner's {role} "
                f"lacks it; context {self.context})"
            )
        if exc.status == 404:
            return KubeNotFound(f"not found: {resource}{where}: {message}")
        if exc.status == 409:
            return KubeConflict(f"conflict: {resource}{where} changed while tfsverify "
                                f"changed it; run again ({message})")
        if exc.status == 429:
            return KubeTooManyRequests(f"{verb} {resource}{where}: {message}")
        if exc.status == 0:
            # the websocket transport (exec) reports every failure as status 0
            return TargetError(f"cannot {verb} {resource}{where}: {exc.reason}")
        return TargetError(f"{verb} {resource}{where} failed: HTTP {exc.status}: {message}")


def _status_message(exc: ApiException) -> str:
    """The ``message`` of a Kubernetes Status body, else the HTTP reason."""
    body = getattr(exc, "body", None)
    if body:
        try:
            return str(json.loads(body).get("message") or exc.reason)
        except (ValueError, AttributeError):
            pass
    return str(exc.reason or "")


def content_type(method: Callable[..., Any], value: str) -> dict[str, Any]:
    """``_content_type=value`` where the client library takes it (newer generated clients);
    older ones choose merge patch for a dict body and JSON patch for a list by themselves."""
    import inspect

    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return {}
    return {"_content_type": value} if "_content_type" in parameters else {}
