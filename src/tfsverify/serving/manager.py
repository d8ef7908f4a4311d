"""Which model versions are loaded, and the states they go through, as in TF Serving.

The manager plays TF Serving's file-system source and ``AspiredVersionsManager``: each poll
lists the numeric version directories under every model's base path, picks the versions
the version policy asks for, loads the new ones first and only then unloads the ones no
longer wanted (so a model never drops to zero available versions during a roll-over).
States are those of ``GetModelStatus``: LOADING, AVAILABLE, UNLOADING, END. A load that
fails is retried ``max_load_retries`` times, ``load_retry_interval_s`` apart, then ends.

Version labels follow ``ServerCore``: a config may only point a label at a version that is
AVAILABLE, unless ``allow_unavailable_labels`` (``--allow_version_labels_for_unavailable_
models``) is set and the label is new or keeps its version. Note that at start-up no
version is available yet, so a config with labels needs that flag, as in TF Serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfsverify.serving.config import ModelConfig, ServerModelConfig, resolve_path
from tfsverify.serving.metrics import ServingMetrics
from tfsverify.serving.status import CODE_NAMES, ServingError, invalid, not_found

log = logging.getLogger("tfsverify.serving")

LOADING, AVAILABLE, UNLOADING, END = "LOADING", "AVAILABLE", "UNLOADING", "END"


Loader = Callable[[str, int, Path], Any]  # (model name, version, host path) -> servable


@dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str
    error_code: str = "OK"
    error_message: str = ""


@dataclass
class _Slot:
    state: str
    servable: Any = None
    error_code: str = "OK"
    error_message: str = ""
    failures: int = 0
    retry_at_s: float = 0.0


class ModelManager:
    """Loads, serves and unloads the versions of the configured models."""

    def __init__(
        self,
        load: Loader,
        *,
        mounts: Mapping[str, str] | None = None,
        metrics: ServingMetrics | None = None,
        allow_unavailable_labels: bool = False,
        max_load_retries: int = 5,
        load_retry_interval_s: float = 60.0,
    ) -> None:
        self._load_fn = load
        self._mounts = dict(mounts or {})
        self._metrics = metrics or ServingMetrics()
        self._allow_unavailable_labels = allow_unavailable_labels
        self._max_retries = max_load_retries
        self._retry_interval_s = load_retry_interval_s
        self._lock = threading.Lock()  # guards the maps below; held only briefly
        self._reconcile_lock = threading.Lock()  # one (re)load pass at a time
        self._config = ServerModelConfig()
        self._labels: dict[str, dict[str, int]] = {}
        self._versions: dict[str, dict[int, _Slot]] = {}
        self._warned: set[tuple[str, str]] = set()  # (problem, base path) already logged

    @property
    def config(self) -> ServerModelConfig:
        return self._config

    def reload(self, config: ServerModelConfig) -> None:
        """Apply a new config (start-up, config file poll, HandleReloadConfigRequest).

        Raises :class:`ServingError` and keeps the old config when a label points at an
        unavailable version or a new model's base path does not exist. Returns once every
        model new in this config has an AVAILABLE version (or raises ``UNKNOWN``).
        """
        with self._reconcile_lock:
            self._check_labels(config)
            new = [m for m in config.models if self._config.model(m.name) is None]
            for model in new:
                host = resolve_path(model.base_path, self._mounts)
                if not host.is_dir():
                    raise not_found(
                        f"Could not find base path {model.base_path} for servable {model.name}"
                    )
            with self._lock:
                self._config = config
                self._labels = {m.name: dict(m.labels) for m in config.models}
            self._reconcile()
            failed = [m.name for m in new if self._latest(m.name) is None]
            if failed:
                errors = "; ".join(self._errors(name) for name in failed)
                raise ServingError(
                    "UNKNOWN", f"{len(failed)} model(s) did not become available: {errors}"
                )

    def poll(self) -> None:
        """One pass of the file-system source: load new versions, unload unwanted ones."""
        with self._reconcile_lock:
            self._reconcile()

    def servable(self, name: str, version: int | None = None, label: str | None = None) -> Any:
        """The AVAILABLE servable a ModelSpec names (latest when no version or label)."""
        if not name:
            raise invalid("ModelSpec has no name specified.")
        with self._lock:
            if label:
                labels = self._labels.get(name, {})
                if label not in labels:
                    raise invalid(f"Unrecognized servable version label: {label}")
                version = labels[label]
            slots = self._versions.get(name, {})
            if version is None:
                ready = [v for v, s in slots.items() if s.state == AVAILABLE]
                if not ready:
                    raise not_found(f"Servable not found for request: Latest({name})")
                return slots[max(ready)].servable
            slot = slots.get(version)
            if slot is None or slot.state != AVAILABLE:
                raise not_found(f"Servable not found for request: Specific({name}, {version})")
            return slot.servable

    def statuses(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> list[VersionStatus]:
        """Per-version states of a model, newest first (``GetModelStatus``)."""
        with self._lock:
            if label:
                if label not in self._labels.get(name, {}):
                    raise invalid(f"Unrecognized servable version label: {label}")
                version = self._labels[name][label]
            slots = dict(self._versions.get(name, {}))
        if version is not None:
            if version not in slots:
                raise not_found(f"Could not find version {version} of model {name}")
            slots = {version: slots[version]}
        if not slots:
            raise not_found(f"Could not find any versions of model {name}")
        return [
            VersionStatus(v, s.state, s.error_code, s.error_message)
            for v, s in sorted(slots.items(), reverse=True)
        ]

    # -- internals -------------------------------------------------------------------------

    def _check_labels(self, config: ServerModelConfig) -> None:
        for model in config.models:
            current = self._labels.get(model.name, {})
            for label, version in sorted(model.labels.items()):
                allow = self._allow_unavailable_labels and current.get(label, version) == version
                slot = self._versions.get(model.name, {}).get(version)
                if not allow and (slot is None or slot.state != AVAILABLE):
                    raise ServingError(
                        "FAILED_PRECONDITION",
                        f"Request to assign label to version {version} of model {model.name}, "
                        "which is not currently available for inference",
                    )

    def _latest(self, name: str) -> int | None:
        with self._lock:
            ready = [v for v, s in self._versions.get(name, {}).items() if s.state == AVAILABLE]
        return max(ready) if ready else None

    def _errors(self, name: str) -> str:
        with self._lock:
            slots = sorted(self._versions.get(name, {}).items())
        errors = [f"version {v}: {s.error_message}" for v, s in slots if s.error_message]
        return f"{name} ({', '.join(errors) or 'no version found'})"

    def _scan(self, model: ModelConfig) -> set[int] | None:
        """Version numbers on disk; None when the base path is missing (nothing changes)."""
        host = resolve_path(model.base_path, self._mounts)
        try:
            children = list(host.iterdir())
        except OSError:
            self._warn_once(
                "missing",
                model,
                "Could not find base path %s for servable %s: keeping its versions",
            )
            return None
        versions = {int(c.name) for c in children if c.name.isdigit() and c.is_dir()}
        if not versions:
            self._warn_once("empty", model, "No versions found under base path %s for servable %s")
        else:
            self._warned.discard(("empty", model.base_path))
        self._warned.discard(("missing", model.base_path))
        return versions

    def _warn_once(self, kind: str, model: ModelConfig, message: str) -> None:
        """Log a base-path problem once, not on every poll, until it clears."""
        if (kind, model.base_path) not in self._warned:
            self._warned.add((kind, model.base_path))
            log.warning(message, model.base_path, model.name)

    def _reconcile(self) -> None:
        config = self._config
        for model in config.models:
            on_disk = self._scan(model)
            if on_disk is None:
                continue
            aspired = model.policy.select(on_disk)
            with self._lock:
                slots = self._versions.setdefault(model.name, {})
            for version in sorted(aspired, reverse=True):
                slot = slots.get(version)
                ended = slot is not None and slot.state in (UNLOADING, END)
                if slot is None or (ended and slot.failures <= self._max_retries):
                    self._load(model, version, slots, failures=0)
                elif slot.state == LOADING and slot.retry_at_s <= time.monotonic():
                    self._load(model, version, slots, failures=slot.failures)
            if not aspired or any(slots[v].state == AVAILABLE for v in aspired if v in slots):
                for version in sorted(set(slots) - aspired):
                    self._unload(model.name, version, slots)
        gone = [name for name in self._versions if config.model(name) is None]
        for name in gone:
            for version in sorted(self._versions[name]):
                self._unload(name, version, self._versions[name])

    def _load(
        self, model: ModelConfig, version: int, slots: dict[int, _Slot], failures: int
    ) -> None:
        path = f"{model.base_path.rstrip('/')}/{version}"
        with self._lock:
            slots[version] = slot = _Slot(LOADING, failures=failures)
        log.info("Loading servable: {name: %s version: %d}", model.name, version)
        try:
            servable = self._load_fn(model.name, version, resolve_path(path, self._mounts))
        except Exception as exc:
            self._metrics.count_load(path, ok=False)
            code = (
                exc.code
                if isinstance(exc, ServingError)
                else CODE_NAMES.get(getattr(exc, "error_code", 2), "UNKNOWN")
            )
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            with self._lock:
                slot.failures += 1
                slot.error_code, slot.error_message = code, message
                slot.retry_at_s = time.monotonic() + self._retry_interval_s
                if slot.failures > self._max_retries:
                    slot.state = END
            log.error(
                "Loading servable: {name: %s version: %d} failed: %s", model.name, version, message
            )
            return
        self._metrics.count_load(path, ok=True)
        with self._lock:
            slot.servable, slot.state = servable, AVAILABLE
        log.info("Successfully loaded servable version {name: %s version: %d}", model.name, version)

    def _unload(self, name: str, version: int, slots: dict[int, _Slot]) -> None:
        with self._lock:
            slot = slots[version]
            if slot.state == END:
                slot.failures = 0  # no longer aspired: a later re-appearance loads afresh
                return
            was_loaded = slot.state == AVAILABLE
            slot.state = UNLOADING
        if was_loaded:
            log.info("Unloading servable version {name: %s version: %d}", name, version)
        with self._lock:
            slot.servable, slot.state = None, END
