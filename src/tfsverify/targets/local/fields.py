"""Typed, checked access to the fields of one Kubernetes object.

Every check failure is a :class:`~tfsverify.errors.ManifestError` with one line of the form
``<Kind>/<name>: <field>: <what is wrong>``, so a user can find the field in the overlay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from tfsverify.errors import ManifestError

T = TypeVar("T")
CLUSTER_SCOPED = ("Node", "Namespace", "ClusterRole", "ClusterRoleBinding",
                  "CustomResourceDefinition", "PersistentVolume", "StorageClass", "PriorityClass")


@dataclass(frozen=True)
class Where:
    """The object a field belongs to, for error messages and ignored-field entries."""

    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Where:
        """Where ``obj`` is; a namespaced object without a namespace is in ``default``."""
        metadata = obj.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        kind = str(obj.get("kind", "?"))
        namespace = "" if kind in CLUSTER_SCOPED else "default"
        return cls(
            kind=kind,
            name=str(metadata.get("name", "?")),
            namespace=str(metadata.get("namespace") or namespace),
        )

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def error(self, path: str, what: str) -> ManifestError:
        return ManifestError(f"{self.ref}: {path}: {what}")

    def note(self, path: str, why: str = "") -> str:
        """An ignored-field entry: ``Kind/name: path`` (with a reason when one helps)."""
        return f"{self.ref}: {path}" + (f" ({why})" if why else "")


def as_map(where: Where, path: str, value: Any) -> dict[str, Any]:
    """A mapping field; missing (None) is empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(path, f"expected a mapping, got {_kind(value)}")
    return value


def as_list(where: Where, path: str, value: Any) -> list[Any]:
    """A list field; missing (None) is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(path, f"expected a list, got {_kind(value)}")
    return value


def as_str(where: Where, path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise where.error(path, f"expected a string, got {_kind(value)} {value!r}")
    return value


def as_int(where: Where, path: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(path, f"expected an integer, got {_kind(value)} {value!r}")
    if value < minimum:
        raise where.error(path, f"{value} is less than {minimum}")
    return value


def as_str_map(where: Where, path: str, value: Any) -> dict[str, str]:
    """Labels, selectors, data: a mapping of strings to strings."""
    result: dict[str, str] = {}
    for key, item in as_map(where, path, value).items():
        result[str(key)] = as_str(where, f"{path}.{key}", item)
    return result


def as_strs(where: Where, path: str, value: Any) -> tuple[str, ...]:
    items = as_list(where, path, value)
    return tuple(as_str(where, f"{path}[{i}]", item) for i, item in enumerate(items))


def as_choice(where: Where, path: str, value: Any, allowed: Iterable[str]) -> str:
    """An enumerated value; an unknown one names the allowed values."""
    choices = tuple(allowed)
    if not isinstance(value, str) or value not in choices:
        raise where.error(path, f"unknown value {value!r} (allowed: {', '.join(choices)})")
    return value


def parsed(where: Where, path: str, value: Any, parse: Callable[[Any], T]) -> T:
    """Run a :mod:`quantities` parser, turning its ``ValueError`` into a ManifestError."""
    try:
        return parse(value)
    except ValueError as exc:
        raise where.error(path, str(exc)) from exc


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether matchLabels ``selector`` selects an object labelled ``labels``."""
    return all(labels.get(key) == value for key, value in selector.items())


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
