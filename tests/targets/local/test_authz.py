"""AuthorizationPolicy evaluation, table-driven against Istio's documented semantics."""

from __future__ import annotations

from typing import Any

import pytest

from tfsverify.errors import BadInput
from tfsverify.targets.local.sidecar.authz import Request, evaluate, match_value, parse_policies

LOADGEN = "cluster.local/ns/tfsverify/sa/loadgen"
INTRUDER = "cluster.local/ns/tfsverify/sa/intruder"
ADMIN = "cluster.local/ns/tfserving-admin/sa/model-admin"
PREDICT = "/tensorflow.serving.PredictionService/Predict"
RELOAD = "/tensorflow.serving.ModelService/HandleReloadConfigRequest"


def req(principal: str | None = LOADGEN, path: str = PREDICT, port: int = 8500,
        headers: dict[str, str] | None = None) -> Request:
    return Request(principal, path, port, headers or {})


def allow(*rules: dict[str, Any], name: str = "allow") -> dict[str, Any]:
    return {"name": name, "action": "ALLOW", "rules": list(rules)}


def deny(*rules: dict[str, Any], name: str = "deny") -> dict[str, Any]:
    return {"name": name, "action": "DENY", "rules": list(rules)}


def source(**fields: list[str]) -> dict[str, Any]:
    return {"from": [{"source": fields}]}


def operation(**fields: list[str]) -> dict[str, Any]:
    return {"to": [{"operation": fields}]}


REFERENCE = allow(  # the reference deployment's policy (research/deploy-anchors.md 2.5)
    {"from": [{"source": {"principals": [LOADGEN]}}],
     "to": [{"operation": {"ports": ["8500"],
                           "paths": ["/tensorflow.serving.PredictionService/*"]}}]},
    {"from": [{"source": {"principals": [ADMIN]}}],
     "to": [{"operation": {"paths": ["/tensorflow.serving.ModelService/*"]}}]},
)

CASES: list[tuple[str, list[dict[str, Any]], Request, bool]] = [
    ("no policy allows everyone", [], req(None), True),
    ("allow-nothing (no rules) denies", [allow()], req(), False),
    ("empty spec is allow-nothing", [{"name": "x"}], req(), False),
    ("rules [{}] allows everything", [allow({})], req(None), True),
    ("deny without rules matches nothing", [deny()], req(), True),
    ("reference: loadgen may predict", [REFERENCE], req(), True),
    ("reference: loadgen may not reload", [REFERENCE], req(path=RELOAD), False),
    ("reference: admin may reload", [REFERENCE], req(ADMIN, RELOAD), True),
    ("reference: admin may not predict", [REFERENCE], req(ADMIN), False),
    ("reference: wrong port", [REFERENCE], req(port=8501), False),
    ("reference: intruder denied", [REFERENCE], req(INTRUDER), False),
    ("reference: plaintext denied", [REFERENCE], req(None), False),
    ("principal '*' needs a principal", [allow(source(principals=["*"]))], req(None), False),
    ("principal '*' any mTLS peer", [allow(source(principals=["*"]))], req(INTRUDER), True),
    ("principal prefix", [allow(source(principals=["cluster.local/ns/tfsverify/*"]))],
     req(INTRUDER), True),
    ("principal suffix", [allow(source(principals=["*/sa/loadgen"]))], req(INTRUDER), False),
    ("notPrincipals", [allow(source(notPrincipals=[INTRUDER]))], req(), True),
    ("notPrincipals excludes", [allow(source(notPrincipals=[INTRUDER]))], req(INTRUDER), False),
    ("deny plaintext via notPrincipals *", [deny(source(notPrincipals=["*"]))], req(None), False),
    ("deny plaintext keeps mTLS", [deny(source(notPrincipals=["*"]))], req(), True),
    ("namespaces", [allow(source(namespaces=["tfsverify"]))], req(INTRUDER), True),
    ("namespaces other", [allow(source(namespaces=["prod"]))], req(), False),
    ("notNamespaces", [allow(source(notNamespaces=["tfsverify"]))], req(ADMIN), True),
    ("plaintext satisfies notNamespaces", [allow(source(notNamespaces=["x"]))], req(None), True),
    ("serviceAccounts", [allow(source(serviceAccounts=["tfsverify/loadgen"]))], req(), True),
    ("fields in a source are ANDed",
     [allow(source(namespaces=["tfsverify"], notPrincipals=[INTRUDER]))], req(INTRUDER), False),
    ("from items are ORed",
     [allow({"from": [{"source": {"principals": [ADMIN]}},
                      {"source": {"principals": [LOADGEN]}}]})], req(), True),
    ("rules are ORed", [allow(source(principals=[ADMIN]), operation(paths=[PREDICT]))],
     req(INTRUDER), True),
    ("from and to are ANDed",
     [allow({**source(principals=[LOADGEN]), **operation(paths=[RELOAD])})], req(), False),
    ("notPaths", [allow(operation(notPaths=["*/HandleReloadConfigRequest"]))], req(), True),
    ("notPaths excludes", [allow(operation(notPaths=["*/HandleReloadConfigRequest"]))],
     req(path=RELOAD), False),
    ("methods: gRPC is POST", [allow(operation(methods=["POST"]))], req(), True),
    ("deny wins over allow", [allow({}), deny(operation(paths=[RELOAD]))], req(path=RELOAD),
     False),
    ("deny elsewhere, allow here", [allow({}), deny(operation(paths=[RELOAD]))], req(), True),
    ("audit changes nothing", [{"name": "a", "action": "AUDIT", "rules": [{}]}], req(None), True),
    ("when source.principal", [allow({"when": [{"key": "source.principal",
                                                "values": [LOADGEN]}]})], req(), True),
    ("when header", [allow({"when": [{"key": "request.headers[x-team]", "values": ["ml"]}]})],
     req(headers={"x-team": "ml"}), True),
    ("when header missing", [allow({"when": [{"key": "request.headers[x-team]",
                                              "values": ["ml"]}]})], req(), False),
    ("when notValues", [allow({"when": [{"key": "destination.port", "notValues": ["8500"]}]})],
     req(), False),
    ("when conditions are ANDed",
     [allow({"when": [{"key": "source.namespace", "values": ["tfsverify"]},
                      {"key": "source.principal", "values": [LOADGEN]}]})], req(INTRUDER),
     False),
]


@pytest.mark.parametrize(("name", "policies", "request_", "allowed"), CASES,
                         ids=[c[0] for c in CASES])
def test_decision(name: str, policies: list[dict[str, Any]], request_: Request,
                  allowed: bool) -> None:
    assert evaluate(parse_policies(policies), request_).allowed is allowed, name


def test_decision_names_the_deciding_policy() -> None:
    policies = parse_policies([allow({}, name="a"), deny(operation(paths=[RELOAD]), name="d")])
    assert evaluate(policies, req(path=RELOAD)).policy == "d"
    assert evaluate(policies, req()).policy == "a"


@pytest.mark.parametrize(("pattern", "value", "matched"), [
    ("abc", "abc", True), ("abc", "abcd", False), ("ab*", "abcd", True), ("*cd", "abcd", True),
    ("*cd", "abce", False), ("*", "x", True), ("*", "", False), ("*", None, False),
    ("a*", None, False),
])
def test_match_value(pattern: str, value: str | None, matched: bool) -> None:
    assert match_value(pattern, value) is matched


BAD: list[tuple[Any, str]] = [
    ({"name": "x"}, "must be a list"),
    ([{"action": "CUSTOM"}], "action"),
    ([{"rules": [{"from": []}]}], "non-empty list"),
    ([{"rules": [{"from": [{"source": {}}]}]}], "must not be empty"),
    ([{"rules": [{"from": [{"source": {"ipBlocks": ["1.2.3.4"]}}]}]}], "ipBlocks"),
    ([{"rules": [{"to": [{"operation": {"hosts": ["a"]}}]}]}], "hosts"),
    ([{"rules": [{"from": [{"source": {"principals": "a"}}]}]}], "list of strings"),
    ([{"rules": [{"from": [{"source": {"principals": [""]}}]}]}], "empty value"),
    ([{"rules": [{"when": [{"key": "request.auth.claims[iss]", "values": ["x"]}]}]}],
     "not supported"),
    ([{"rules": [{"when": [{"key": "source.principal"}]}]}], "values or notValues"),
    ([{"rules": [{"source": {}}]}], "unsupported field"),
]


@pytest.mark.parametrize(("raw", "message"), BAD, ids=[b[1] for b in BAD])
def test_bad_policies_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_policies(raw)
