"""TF Serving's configuration files, parsed once into frozen objects.

* ``--model_config_file``: an ASCII ``ModelServerConfig`` (``model_config_list { config {
  name base_path model_platform model_version_policy version_labels } }``), validated as
  ``ServerCore`` validates it: unique names, absolute base paths, platform ``tensorflow``.
* ``--monitoring_config_file``: an ASCII ``MonitoringConfig`` (``prometheus_config { enable
  path }``); the default path is ``/monitoring/prometheus/metrics``.
* Version policies: ``latest { num_versions }`` (the default, 1 version), ``all {}``,
  ``specific { versions }``.

Paths in these files are paths inside the container. The local target maps them to this
machine with ``TFSVERIFY_MOUNTS`` (``{"/models": "/abs/reference-deploy/model", ...}``);
:func:`resolve_path` applies that map (longest matching prefix wins).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format

from tfsverify.errors import BadInput
from tfsverify.serving.configproto import ModelServerConfig, MonitoringConfig

DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
PLATFORM = "tensorflow"


@dataclass(frozen=True)
class VersionPolicy:
    """Which of the version directories found under a base path should be served."""

    kind: str = "latest"  # latest | all | specific
    num_versions: int = 1
    versions: frozenset[int] = frozenset()

    def select(self, on_disk: Iterable[int]) -> set[int]:
        """The versions to serve, out of those found on disk."""
        found = sorted(set(on_disk), reverse=True)
        if self.kind == "all":
            return set(found)
        if self.kind == "specific":
            return set(self.versions.intersection(found))
        return set(found[: self.num_versions])


@dataclass(frozen=True)
class ModelConfig:
    """One ``config { ... }`` entry of a ``model_config_list``."""

    name: str
    base_path: str  # as written, i.e. a path inside the container
    policy: VersionPolicy = VersionPolicy()
    labels: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerModelConfig:
    """The models the server is asked to serve (an empty list is allowed)."""

    models: tuple[ModelConfig, ...] = ()

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)


@dataclass(frozen=True)
class MonitoringSettings:
    prometheus_enabled: bool = False
    prometheus_path: str = DEFAULT_PROMETHEUS_PATH


def single_model_config(name: str, base_path: str) -> ServerModelConfig:
    """What ``--model_name`` / ``--model_base_path`` mean: one model, latest version."""
    if not posixpath.isabs(base_path):
        raise BadInput(f"--model_base_path must be an absolute path, got {base_path!r}")
    return ServerModelConfig((ModelConfig(name=name, base_path=base_path),))


def model_config_from_proto(proto: ModelServerConfig, source: str) -> ServerModelConfig:
    """Validate a ``ModelServerConfig`` message; errors name ``source`` in one line."""
    choice = proto.WhichOneof("config")
    if choice is None:
        return ServerModelConfig()
    if choice != "model_config_list":
        raise BadInput(f"{source}: only model_config_list is supported, not {choice}")
    models: list[ModelConfig] = []
    for entry in proto.model_config_list.config:
        if any(m.name == entry.name for m in models):
            raise BadInput(
                f"{source}: Illegal to list model {entry.name} multiple times in config list"
            )
        if entry.model_platform and entry.model_platform != PLATFORM:
            raise BadInput(
                f"{source}: Model {entry.name} requests unsupported platform {entry.model_platform}"
            )
        if not entry.model_platform and entry.model_type != 1:  # ModelType.TENSORFLOW
            raise BadInput(f"{source}: model {entry.name} sets no model_platform ('tensorflow')")
        if not posixpath.isabs(entry.base_path):
            raise BadInput(
                f"{source}: Expected model {entry.name} to have an absolute path or URI; "
                f"got base_path()={entry.base_path}"
            )
        models.append(
            ModelConfig(
                name=entry.name,
                base_path=entry.base_path,
                policy=_policy(entry.model_version_policy, entry.name, source),
                labels=dict(entry.version_labels),
            )
        )
    return ServerModelConfig(tuple(models))


def _policy(proto: object, name: str, source: str) -> VersionPolicy:
    choice = proto.WhichOneof("policy_choice")  # type: ignore[attr-defined]
    if choice == "all":
        return VersionPolicy("all")
    if choice == "specific":
        versions = frozenset(proto.specific.versions)  # type: ignore[attr-defined]
        if not versions:
            raise BadInput(f"{source}: model {name}: specific version policy lists no versions")
        return VersionPolicy("specific", versions=versions)
    num = proto.latest.num_versions if choice == "latest" else 1  # type: ignore[attr-defined]
    return VersionPolicy("latest", num_versions=max(num, 1))


def parse_model_config(text: str, source: str) -> ServerModelConfig:
    """Parse the text of a ``--model_config_file``."""
    try:
        proto = text_format.Parse(text, ModelServerConfig())
    except text_format.ParseError as exc:
        raise BadInput(f"{source}: not a ModelServerConfig text proto: {exc}") from exc
    return model_config_from_proto(proto, source)


def parse_monitoring_config(text: str, source: str) -> MonitoringSettings:
    """Parse the text of a ``--monitoring_config_file``."""
    try:
        proto = text_format.Parse(text, MonitoringConfig())
    except text_format.ParseError as exc:
        raise BadInput(f"{source}: not a MonitoringConfig text proto: {exc}") from exc
    prometheus = proto.prometheus_config
    path = prometheus.path or DEFAULT_PROMETHEUS_PATH
    if not path.startswith("/"):
        raise BadInput(f"{source}: prometheus_config.path must start with '/', got {path!r}")
    return MonitoringSettings(prometheus_enabled=prometheus.enable, prometheus_path=path)


def read_config_file(path: str, mounts: Mapping[str, str]) -> tuple[str, str]:
    """Text of the config file at container ``path`` and a name for it in messages."""
    host = resolve_path(path, mounts)
    source = path if str(host) == path else f"{path} (= {host})"
    try:
        return host.read_text(), source
    except OSError as exc:
        raise BadInput(f"{source}: cannot read config file: {exc.strerror or exc}") from exc


def load_model_config(path: str, mounts: Mapping[str, str]) -> ServerModelConfig:
    text, source = read_config_file(path, mounts)
    return parse_model_config(text, source)


def load_monitoring_config(path: str, mounts: Mapping[str, str]) -> MonitoringSettings:
    text, source = read_config_file(path, mounts)
    return parse_monitoring_config(text, source)


def mounts_from_env(value: str | None) -> dict[str, str]:
    """Parse ``TFSVERIFY_MOUNTS`` (a JSON object ``{container_path: host_path}``)."""
    if not value:
        return {}
    try:
        mounts = json.loads(value)
    except ValueError as exc:
        raise BadInput(f"TFSVERIFY_MOUNTS is not JSON: {exc}") from exc
    if not isinstance(mounts, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and posixpath.isabs(k) for k, v in mounts.items()
    ):
        raise BadInput(
            "TFSVERIFY_MOUNTS must be a JSON object of absolute container path -> host path"
        )
    return mounts


def resolve_path(path: str, mounts: Mapping[str, str]) -> Path:
    """Map a container path to this machine through ``mounts`` (longest prefix wins).

    ``/models/anomaly-detection/1`` with ``{"/models": "/srv/m"}`` is
    ``/srv/m/anomaly-detection/1``; a path under no mount is returned unchanged.
    """
    if not path:
        return Path(path)
    norm = posixpath.normpath(path)
    table = {posixpath.normpath(k): v for k, v in mounts.items()}
    inside = [p for p in table if norm == p or norm.startswith(p.rstrip("/") + "/")]
    if not inside:
        return Path(path)
    best = max(inside, key=len)
    rest = norm[len(best) :].lstrip("/")
    return Path(table[best]) / rest if rest else Path(table[best])
