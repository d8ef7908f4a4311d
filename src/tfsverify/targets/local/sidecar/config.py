"""The sidecar's two inputs: its own config file and the mesh config it watches.

Sidecar config (JSON, written once per pod by the supervisor; relative paths are resolved
against the file's folder)::

    {"pod": "anomaly-detection-5f7c9-abcde", "namespace": "tfserving",
     "workload": "anomaly-detection", "service_account": "anomaly-detection",
     "listen": "127.0.1.3:8500",      # the pod address clients dial (mTLS)
     "upstream": "127.0.2.3:8500",    # the app's plaintext gRPC port
     "admin": "127.0.1.3:15000",      # plaintext HTTP admin
     "app_metrics_url": "http://127.0.2.3:8501/monitoring/prometheus/metrics",  # or null
     "tls": {"ca": "ca.crt", "cert": "server.crt", "key": "server.key"},
     "mesh_config": "mesh.json",
     "trust_domain": "cluster.local",  # optional
     "seed": 42,                       # optional: seeds the fault draws
     "drain_s": 0.5}                   # optional: grace for in-flight calls on shutdown

Mesh config (JSON, rewritten by the supervisor when manifests or faults change; Istio field
shapes)::

    {"version": 7, "mtls_mode": "STRICT" | "PERMISSIVE" | "DISABLE" | "UNSET",
     "authorization": [{"name": ..., "action": "ALLOW" | "DENY", "rules": [...]}],
     "fault": null | {"abort": {...}, "delay": {...}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput
from tfsverify.targets.local.sidecar.authz import Policy, parse_policies
from tfsverify.targets.local.sidecar.faults import FaultSpec, parse_fault

MTLS_MODES = ("STRICT", "PERMISSIVE", "DISABLE")


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class SidecarConfig:
    pod: str
    namespace: str
    workload: str
    service_account: str
    listen: Address
    upstream: Address
    admin: Address
    app_metrics_url: str | None
    tls: TlsFiles
    mesh_config: Path
    trust_domain: str = "cluster.local"
    seed: int | None = None
    drain_s: float = 0.5

    @property
    def principal(self) -> str:
        """This workload's principal: ``<trust domain>/ns/<namespace>/sa/<service account>``."""
        return f"{self.trust_domain}/ns/{self.namespace}/sa/{self.service_account}"


@dataclass(frozen=True)
class MeshConfig:
    version: int
    mtls_mode: str  # STRICT | PERMISSIVE | DISABLE
    policies: tuple[Policy, ...]
    fault: FaultSpec | None
    raw: dict[str, Any]  # as read, for /config_dump


_REQUIRED = ("pod", "namespace", "workload", "service_account", "listen", "upstream", "admin",
             "tls", "mesh_config")
_OPTIONAL = ("app_metrics_url", "trust_domain", "seed", "drain_s")


def load_sidecar_config(path: Path) -> SidecarConfig:
    """Read and check a sidecar config file; :class:`BadInput` names what is wrong."""
    raw = _read_json(path, "sidecar config")
    where = f"sidecar config {path}"
    missing = [k for k in _REQUIRED if k not in raw]
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if missing or unknown:
        raise BadInput(f"{where}: missing {missing or '-'}, unknown {unknown or '-'}")
    for key in ("pod", "namespace", "workload", "service_account", "mesh_config"):
        if not isinstance(raw[key], str) or not raw[key]:
            raise BadInput(f"{where}: {key} must be a non-empty string")
    tls = raw["tls"]
    if not isinstance(tls, dict) or sorted(tls) != ["ca", "cert", "key"]:
        raise BadInput(f"{where}: tls must be {{\"ca\", \"cert\", \"key\"}}")
    base = path.parent
    url = raw.get("app_metrics_url")
    if url is not None and not (isinstance(url, str) and url.startswith("http://")):
        raise BadInput(f"{where}: app_metrics_url must be an http:// URL or null")
    seed = raw.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadInput(f"{where}: seed must be an integer or null")
    drain_s = raw.get("drain_s", 0.5)
    if isinstance(drain_s, bool) or not isinstance(drain_s, int | float) or drain_s < 0:
        raise BadInput(f"{where}: drain_s must be a number >= 0")
    return SidecarConfig(
        pod=raw["pod"], namespace=raw["namespace"], workload=raw["workload"],
        service_account=raw["service_account"],
        listen=parse_address(raw["listen"], f"{where}: listen"),
        upstream=parse_address(raw["upstream"], f"{where}: upstream"),
        admin=parse_address(raw["admin"], f"{where}: admin"),
        app_metrics_url=url,
        tls=TlsFiles(*(base / str(tls[k]) for k in ("ca", "cert", "key"))),
        mesh_config=base / raw["mesh_config"],
        trust_domain=str(raw.get("trust_domain", "cluster.local")),
        seed=seed, drain_s=float(drain_s),
    )


def parse_mesh(raw: Any) -> MeshConfig:
    """Check a mesh config object and build the policies and the fault it names."""
    if not isinstance(raw, dict):
        raise BadInput("mesh config must be a JSON object")
    unknown = sorted(set(raw) - {"version", "mtls_mode", "authorization", "fault"})
    if unknown:
        raise BadInput(f"mesh config: unknown field(s) {', '.join(unknown)}")
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise BadInput("mesh config: version must be an integer")
    mode = raw.get("mtls_mode", "UNSET")
    mode = "PERMISSIVE" if mode == "UNSET" else mode  # Istio: UNSET inherits, else PERMISSIVE
    if mode not in MTLS_MODES:
        raise BadInput(f"mesh config: mtls_mode {mode!r} is not one of {', '.join(MTLS_MODES)}")
    return MeshConfig(version, mode, parse_policies(raw.get("authorization") or []),
                      parse_fault(raw.get("fault")), raw)


def load_mesh(path: Path) -> MeshConfig:
    return parse_mesh(_read_json(path, "mesh config"))


def parse_address(raw: Any, where: str) -> Address:
    """``host:port`` (or ``[v6]:port``) with a numeric port."""
    host, sep, port = str(raw).rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not isinstance(raw, str) or not sep or not host or not port.isdigit():
        raise BadInput(f"{where}: {raw!r} is not host:port")
    if not 0 < int(port) < 65536:
        raise BadInput(f"{where}: port {port} is out of range")
    return Address(host, int(port))


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read the {what} {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise BadInput(f"the {what} {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"the {what} {path} must hold a JSON object")
    return data
