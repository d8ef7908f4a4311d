"""Istio AuthorizationPolicy evaluation for one gRPC request (pure: no I/O, no grpc).

Semantics, as in Istio (``security/v1beta1/authorization_policy.proto``):

- DENY policies are checked first: any match denies. Then ALLOW policies: when at least one
  exists, a request that matches none of them is denied; when none exists, it is allowed.
  AUDIT policies never change the decision.
- A policy matches when one of its ``rules`` matches. An absent or empty ``rules`` matches
  nothing (so ``spec: {}`` is Istio's "allow-nothing"); ``rules: [{}]`` matches everything.
- A rule matches when its ``from``, ``to`` and ``when`` all match (each only if present):
  ``from``/``to`` when any item matches; ``when`` when every condition matches.
- Inside a source or operation every present field must match; a positive field when any
  value matches, a ``notX`` field when no value matches.
- Values: exact, prefix ``"abc*"``, suffix ``"*abc"``, or ``"*"`` (any non-empty value).
  A plaintext peer has no principal and no namespace: it never matches ``principals``, even
  ``["*"]``, and always satisfies ``notPrincipals``.

Supported fields: source ``principals``, ``namespaces``, ``serviceAccounts`` (and ``notX``);
operation ``paths``, ``ports``, ``methods`` (and ``notX``); ``when`` keys
``source.principal``, ``source.namespace``, ``destination.port``, ``request.headers[name]``.
Anything else is refused by :func:`parse_policies` rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfsverify.errors import BadInput

ACTIONS = ("ALLOW", "DENY", "AUDIT")
_SOURCE_FIELDS = {"principals": "principal", "namespaces": "namespace",
                  "serviceAccounts": "service_account"}
_OPERATION_FIELDS = {"paths": "path", "ports": "port", "methods": "method"}
_WHEN_KEYS = {"source.principal": "principal", "source.namespace": "namespace",
              "destination.port": "port"}


@dataclass(frozen=True)
class Request:
    """What the sidecar knows about a request when it authorizes it."""

    principal: str | None  # "cluster.local/ns/X/sa/Y"; None for plaintext peers
    path: str  # "/tensorflow.serving.PredictionService/Predict"
    port: int  # the workload port the client dialled
    headers: Mapping[str, str]
    method: str = "POST"  # the HTTP method; every gRPC call is a POST

    @property
    def namespace(self) -> str | None:
        parts = (self.principal or "").split("/")
        return parts[2] if len(parts) >= 5 and parts[1] == "ns" else None

    @property
    def service_account(self) -> str | None:
        parts = (self.principal or "").split("/")
        ok = len(parts) >= 5 and parts[1] == "ns" and parts[3] == "sa"
        return f"{parts[2]}/{parts[4]}" if ok else None

    def attribute(self, name: str) -> str | None:
        if name.startswith("request.headers[") and name.endswith("]"):
            return self.headers.get(name[len("request.headers["):-1].lower())
        value = getattr(self, _WHEN_KEYS.get(name, name))
        return None if value is None else str(value)


@dataclass(frozen=True)
class FieldMatch:
    """One field of a source, operation or condition: ``values`` and/or ``not_values``."""

    attribute: str  # a Request attribute name or a when key
    values: tuple[str, ...] | None
    not_values: tuple[str, ...] | None

    def matches(self, request: Request) -> bool:
        value = request.attribute(self.attribute)
        if self.values is not None and not any(match_value(p, value) for p in self.values):
            return False
        return not (self.not_values and any(match_value(p, value) for p in self.not_values))


@dataclass(frozen=True)
class Rule:
    sources: tuple[tuple[FieldMatch, ...], ...] | None  # from[]: any; fields inside: all
    operations: tuple[tuple[FieldMatch, ...], ...] | None  # to[]: any; fields inside: all
    conditions: tuple[FieldMatch, ...] | None  # when[]: all

    def matches(self, request: Request) -> bool:
        for group in (self.sources, self.operations):
            if group is not None and not any(all(f.matches(request) for f in g) for g in group):
                return False
        return self.conditions is None or all(c.matches(request) for c in self.conditions)


@dataclass(frozen=True)
class Policy:
    name: str
    action: str  # ALLOW | DENY | AUDIT
    rules: tuple[Rule, ...]  # empty: matches nothing

    def matches(self, request: Request) -> bool:
        return any(rule.matches(request) for rule in self.rules)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: str | None  # the policy that decided (matched DENY or ALLOW); None by default


def match_value(pattern: str, value: str | None) -> bool:
    """Istio string match: exact, ``prefix*``, ``*suffix`` or ``*`` (presence)."""
    if not value:
        return False
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def evaluate(policies: tuple[Policy, ...], request: Request) -> Decision:
    """Decide a request: DENY policies first, then ALLOW policies (none means allow)."""
    for p in policies:
        if p.action == "DENY" and p.matches(request):
            return Decision(False, p.name)
    allow = [p for p in policies if p.action == "ALLOW"]
    if not allow:
        return Decision(True, None)
    for p in allow:
        if p.matches(request):
            return Decision(True, p.name)
    return Decision(False, None)


# parsing --------------------------------------------------------------------------------


def parse_policies(raw: Any) -> tuple[Policy, ...]:
    """Build policies from ``[{"name", "action", "rules"}]`` (Istio field shapes)."""
    if not isinstance(raw, list):
        raise BadInput("authorization must be a list of policies")
    return tuple(_policy(p, i) for i, p in enumerate(raw))


def _policy(raw: Any, index: int) -> Policy:
    where = f"authorization[{index}]"
    _expect_keys(raw, {"name", "action", "rules"}, where)
    name = str(raw.get("name", where))
    action = raw.get("action", "ALLOW")
    if action not in ACTIONS:
        raise BadInput(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise BadInput(f"{where}.rules must be a list")
    return Policy(name, action, tuple(_rule(r, f"{where}.rules[{i}]") for i, r in enumerate(rules)))


def _rule(raw: Any, where: str) -> Rule:
    _expect_keys(raw, {"from", "to", "when"}, where)
    sources = _groups(raw.get("from"), "source", _SOURCE_FIELDS, f"{where}.from")
    operations = _groups(raw.get("to"), "operation", _OPERATION_FIELDS, f"{where}.to")
    conditions = None
    if "when" in raw:
        items = _nonempty_list(raw["when"], f"{where}.when")
        conditions = tuple(_condition(c, f"{where}.when[{i}]") for i, c in enumerate(items))
    return Rule(sources, operations, conditions)


def _groups(
    raw: Any, key: str, fields: dict[str, str], where: str
) -> tuple[tuple[FieldMatch, ...], ...] | None:
    if raw is None:
        return None
    groups = []
    for i, item in enumerate(_nonempty_list(raw, where)):
        _expect_keys(item, {key}, f"{where}[{i}]")
        body = item.get(key)
        here = f"{where}[{i}].{key}"
        allowed = set(fields) | {"not" + k[0].upper() + k[1:] for k in fields}
        _expect_keys(body, allowed, here)
        if not body:
            raise BadInput(f"{here} must not be empty")
        matches = []
        for field, attribute in fields.items():
            neg = "not" + field[0].upper() + field[1:]
            if field in body or neg in body:
                matches.append(FieldMatch(attribute, _strings(body.get(field), f"{here}.{field}"),
                                          _strings(body.get(neg), f"{here}.{neg}")))
        groups.append(tuple(matches))
    return tuple(groups)


def _condition(raw: Any, where: str) -> FieldMatch:
    _expect_keys(raw, {"key", "values", "notValues"}, where)
    key = raw.get("key")
    header = isinstance(key, str) and key.startswith("request.headers[") and key.endswith("]")
    if key not in _WHEN_KEYS and not header:
        known = ", ".join([*_WHEN_KEYS, "request.headers[<name>]"])
        raise BadInput(f"{where}.key {key!r} is not supported (supported: {known})")
    values = _strings(raw.get("values"), f"{where}.values")
    not_values = _strings(raw.get("notValues"), f"{where}.notValues")
    if values is None and not_values is None:
        raise BadInput(f"{where}: one of values or notValues must be set")
    return FieldMatch(str(key), values, not_values)


def _strings(raw: Any, where: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(v, str | int) for v in raw):
        raise BadInput(f"{where} must be a list of strings")
    if any(v == "" for v in raw):
        raise BadInput(f"{where} must not contain an empty value")
    return tuple(str(v) for v in raw)


def _nonempty_list(raw: Any, where: str) -> list[Any]:
    if not isinstance(raw, list) or not raw:
        raise BadInput(f"{where} must be a non-empty list")
    return raw


def _expect_keys(raw: Any, allowed: set[str], where: str) -> None:
    if not isinstance(raw, dict):
        raise BadInput(f"{where} must be an object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise BadInput(f"{where}: unsupported field(s) {', '.join(unknown)} "
                       f"(supported: {', '.join(sorted(allowed))})")
