"""Schema validation of rendered objects, offline.

Kubernetes kinds are validated against the strict (no unknown field) JSON schemas that the
``kubernetes-validate`` package ships, for every supported version: 1.29 to the newest the
package carries. CRD kinds are validated against the generated models of the ``cloudcoil``
model packages (Istio, KEDA, Prometheus Operator), and a field the model does not know is
reported too. A kind that no schema covers is a finding: nothing goes unvalidated.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
import pydantic
import referencing

from tfsverify.deploycheck.findings import Finding, ref

MIN_KUBE = "1.29"
# apiVersion -> module of the cloudcoil models that carry its CRD schemas
CRD_MODULES = {
    "networking.istio.io/v1": "cloudcoil.models.istio.networking.v1",
    "networking.istio.io/v1beta1": "cloudcoil.models.istio.networking.v1beta1",
    "networking.istio.io/v1alpha3": "cloudcoil.models.istio.networking.v1alpha3",
    "security.istio.io/v1": "cloudcoil.models.istio.security.v1",
    "security.istio.io/v1beta1": "cloudcoil.models.istio.security.v1beta1",
    "telemetry.istio.io/v1": "cloudcoil.models.istio.telemetry.v1",
    "telemetry.istio.io/v1alpha1": "cloudcoil.models.istio.telemetry.v1alpha1",
    "extensions.istio.io/v1alpha1": "cloudcoil.models.istio.extensions.v1alpha1",
    "keda.sh/v1alpha1": "cloudcoil.models.keda.v1alpha1",
    "monitoring.coreos.com/v1": "cloudcoil.models.prometheus_operator.v1",
    "monitoring.coreos.com/v1alpha1": "cloudcoil.models.prometheus_operator.v1alpha1",
}
MAX_ERRORS_PER_OBJECT = 3
UNION_MEMBER = re.compile(r"[A-Z][A-Za-z0-9]*|.*\[.*")  # a model class or a pydantic tag


def kube_versions() -> list[str]:
    """The supported Kubernetes versions (``1.29`` ... newest shipped), as ``major.minor``."""
    found = {_minor(v) for v in kv.all_versions()}
    return [".".join(map(str, v)) for v in sorted(found) if v >= _minor(MIN_KUBE)]


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def schema_sources() -> dict[str, str]:
    """Where the schemas come from: package -> version (for the report)."""
    from importlib.metadata import PackageNotFoundError, version

    sources = {}
    for package in ("kubernetes-validate", "cloudcoil-models-istio", "cloudcoil-models-keda",
                    "cloudcoil-models-prometheus-operator"):
        try:
            sources[package] = version(package)
        except PackageNotFoundError:
            sources[package] = "not installed"
    return sources


def validate(objects: list[dict[str, Any]]) -> list[Finding]:
    """Schema findings for ``objects`` (empty when every object is valid)."""
    findings: list[Finding] = []
    for obj in objects:
        findings += _validate_one(json.dumps(obj, sort_keys=True))
    return findings


@functools.lru_cache(maxsize=2048)
def _validate_one(canonical: str) -> tuple[Finding, ...]:
    """Cached by content: most objects are the same in every overlay."""
    obj = json.loads(canonical)
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if api_version in CRD_MODULES:
        return tuple(_validate_crd(obj, api_version, kind))
    return tuple(_validate_kube(obj, api_version, kind))


def _span(versions: list[str]) -> str:
    return versions[0] if len(versions) == 1 else f"{versions[0]} to {versions[-1]}"


def _validate_kube(obj: dict[str, Any], api_version: str, kind: str) -> Iterator[Finding]:
    errors: dict[str, list[str]] = {}
    missing: list[str] = []
    versions = kube_versions()
    for version in versions:
        validator = _kube_validator(version, api_version, kind)
        if validator is None:
            missing.append(version)
            continue
        found = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        for error in found[:MAX_ERRORS_PER_OBJECT]:
            path = ".".join(str(p) for p in error.absolute_path) or "(object)"
            errors.setdefault(f"{path}: {error.message}", []).append(version)
    if len(missing) == len(versions):
        yield Finding("schema-k8s", ref(obj), f"no schema for {kind} {api_version}",
                      "neither Kubernetes " + _span(versions) + " nor the CRD schemas "
                      "tfsverify knows (Istio, KEDA, Prometheus Operator) define it: a typo "
                      "or an API that is not installed, and kubectl apply fails")
        return
    if missing:
        yield Finding("schema-k8s", ref(obj),
                      f"{api_version} {kind} is not served by Kubernetes {_span(missing)}",
                      "kubectl apply fails on those supported versions")
    for problem, bad in errors.items():
        yield Finding("schema-k8s", ref(obj), problem,
                      f"the API server of Kubernetes {_span(bad)} rejects the object")


@functools.lru_cache(maxsize=512)
def _kube_validator(version: str, api_version: str, kind: str) -> Any | None:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    directory = f"kubernetes-json-schema/v{version}.0-local-strict"
    try:
        schema = kv.schema_contents(f"{directory}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    resource = referencing.Resource.from_contents(schema)
    registry = resource @ _definitions(directory)
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@functools.lru_cache(maxsize=32)
def _definitions(directory: str) -> referencing.Registry:
    definitions = kv.schema_contents(f"{directory}/_definitions.json", directory)
    registry: referencing.Registry = referencing.Registry()
    return referencing.Resource.from_contents(definitions) @ registry


@functools.lru_cache(maxsize=64)
def crd_model(api_version: str, kind: str) -> type[pydantic.BaseModel] | None:
    """The cloudcoil model class of a CRD kind, or None."""
    module = importlib.import_module(CRD_MODULES[api_version])
    for value in vars(module).values():
        if (isinstance(value, type) and issubclass(value, pydantic.BaseModel)
                and "api_version" in value.model_fields and "kind" in value.model_fields
                and value.model_fields["kind"].default == kind
                and value.model_fields["api_version"].default == api_version):
            return value
    return None


def _validate_crd(obj: dict[str, Any], api_version: str, kind: str) -> Iterator[Finding]:
    model = crd_model(api_version, kind)
    package = CRD_MODULES[api_version].split(".")[2].replace("_", "-")
    why = (f"the {kind} CRD schema (cloudcoil-models-{package} "
           f"{schema_sources().get(f'cloudcoil-models-{package}', '?')}) rejects it: "
           "kubectl apply fails, or the field is silently dropped")
    if model is None:
        yield Finding("schema-crd", ref(obj), f"no schema for {kind} {api_version}", why)
        return
    try:
        parsed = model.model_validate(obj)
    except pydantic.ValidationError as exc:
        problems = dict.fromkeys(f"{_field_path(e['loc'])}: {e['msg']}" for e in exc.errors())
        for problem in list(problems)[:MAX_ERRORS_PER_OBJECT]:
            yield Finding("schema-crd", ref(obj), problem, why)
        return
    dumped = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    for path in list(_unknown_fields(obj, dumped, ""))[:MAX_ERRORS_PER_OBJECT]:
        yield Finding("schema-crd", ref(obj), f"{path}: unknown field", why)


def _field_path(loc: tuple[int | str, ...]) -> str:
    """The object path of a pydantic error location, without the names of union members
    (``spec.AuthorizationPolicySpec.action`` -> ``spec.action``)."""
    parts = [str(p) for p in loc if not (isinstance(p, str) and UNION_MEMBER.fullmatch(p))]
    return ".".join(parts) or "(object)"


def _unknown_fields(given: Any, known: Any, path: str) -> Iterator[str]:
    """Paths present in ``given`` that the model dropped (``known`` is its dump)."""
    if isinstance(given, dict) and isinstance(known, dict):
        for key, value in given.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in known:
                yield where
            else:
                yield from _unknown_fields(value, known[key], where)
    elif isinstance(given, list) and isinstance(known, list):
        for i, (value, dumped) in enumerate(zip(given, known, strict=False)):
            yield from _unknown_fields(value, dumped, f"{path}[{i}]")
