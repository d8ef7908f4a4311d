"""One container of a pod template: command, env, ports, resources, probes, preStop, mounts.

Kubernetes semantics kept: probe defaults (initialDelaySeconds 0, periodSeconds 10,
timeoutSeconds 1, successThreshold 1, failureThreshold 3); an httpGet/tcpSocket probe port
may name a container port, a gRPC probe port may not; a resource with a limit and no request
is requested at its limit; requests may not exceed limits; ``env`` entries with ``valueFrom``
are not modelled (they are listed as ignored). A probe whose handler is ``exec`` is not run by
the local target (``None``; the ``exec`` field is listed as ignored).
"""

from __future__ import annotations

import math
from typing import Any

from tfsverify.targets.local.fields import (
    Where,
    as_int,
    as_list,
    as_map,
    as_str,
    as_strs,
    parsed,
)
from tfsverify.targets.local.quantities import parse_count, parse_cpu_m, parse_memory_b
from tfsverify.targets.local.spec import GPU_RESOURCE, Container, Probe, Resources

_HANDLERS = ("grpc", "httpGet", "tcpSocket", "exec")
_SLEEP_COMMANDS = ("sleep", "/bin/sleep", "/usr/bin/sleep")


def build_container(
    where: Where, path: str, raw: Any, volume_names: set[str], notes: list[str]
) -> Container:
    """The container at ``path`` (e.g. ``spec.template.spec.containers[0]``)."""
    spec = as_map(where, path, raw)
    name = as_str(where, f"{path}.name", spec.get("name"))
    ports = _ports(where, f"{path}.ports", spec.get("ports"))
    requests, limits = _resources(where, f"{path}.resources", spec.get("resources"))
    return Container(
        name=name,
        command=as_strs(where, f"{path}.command", spec.get("command")),
        args=as_strs(where, f"{path}.args", spec.get("args")),
        env=_env(where, f"{path}.env", spec.get("env")),
        ports=ports,
        requests=requests,
        limits=limits,
        startup=_probe(where, f"{path}.startupProbe", spec.get("startupProbe"), ports),
        liveness=_probe(where, f"{path}.livenessProbe", spec.get("livenessProbe"), ports),
        readiness=_probe(where, f"{path}.readinessProbe", spec.get("readinessProbe"), ports),
        mounts=_mounts(where, f"{path}.volumeMounts", spec.get("volumeMounts"), volume_names),
        pre_stop_sleep_s=_pre_stop_sleep_s(where, f"{path}.lifecycle", spec.get("lifecycle"),
                                           notes),
    )


def _ports(where: Where, path: str, raw: Any) -> dict[str, int]:
    ports: dict[str, int] = {}
    for i, item in enumerate(as_list(where, path, raw)):
        entry = as_map(where, f"{path}[{i}]", item)
        number = as_int(where, f"{path}[{i}].containerPort", entry.get("containerPort"), 1)
        if number > 65535:
            raise where.error(f"{path}[{i}].containerPort", f"{number} is not a port")
        name = as_str(where, f"{path}[{i}].name", entry["name"]) if "name" in entry else ""
        key = name or str(number)
        if key in ports:
            raise where.error(f"{path}[{i}].name", f"port name {key!r} is used twice")
        ports[key] = number
    return ports


def _env(where: Where, path: str, raw: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    for i, item in enumerate(as_list(where, path, raw)):
        entry = as_map(where, f"{path}[{i}]", item)
        name = as_str(where, f"{path}[{i}].name", entry.get("name"))
        if "valueFrom" in entry:
            continue  # listed as ignored by the walk over unmodelled fields
        env[name] = as_str(where, f"{path}[{i}].value", entry.get("value", ""))
    return env


def _resources(where: Where, path: str, raw: Any) -> tuple[Resources, Resources]:
    spec = as_map(where, path, raw)
    limits = _amounts(where, f"{path}.limits", spec.get("limits"))
    requests = {**limits, **_amounts(where, f"{path}.requests", spec.get("requests"))}
    for key, limit in limits.items():
        if requests[key] > limit:
            raise where.error(f"{path}.requests.{key}", "is more than its limit")
        if key == GPU_RESOURCE and requests[key] != limit:
            raise where.error(f"{path}.requests.{key}", "must equal its limit (extended resource)")
    return _as_resources(requests), _as_resources(limits)


def _amounts(where: Where, path: str, raw: Any) -> dict[str, int]:
    spec = as_map(where, path, raw)
    parsers = {"cpu": parse_cpu_m, "memory": parse_memory_b, GPU_RESOURCE: parse_count}
    return {
        key: parsed(where, f"{path}.{key}", spec[key], parse)
        for key, parse in parsers.items()
        if key in spec
    }


def _as_resources(amounts: dict[str, int]) -> Resources:
    return Resources(
        cpu_m=amounts.get("cpu", 0),
        memory_b=amounts.get("memory", 0),
        gpu=amounts.get(GPU_RESOURCE, 0),
    )


def _probe(where: Where, path: str, raw: Any, ports: dict[str, int]) -> Probe | None:
    if raw is None:
        return None
    spec = as_map(where, path, raw)
    handlers = [name for name in _HANDLERS if name in spec]
    if len(handlers) != 1:
        what = "has more than one handler" if handlers else "has no handler"
        raise where.error(path, f"{what} (one of {', '.join(_HANDLERS)})")
    handler = handlers[0]
    if handler == "exec":
        return None
    success = as_int(where, f"{path}.successThreshold", spec.get("successThreshold", 1), 1)
    if success != 1 and not path.endswith("readinessProbe"):
        raise where.error(f"{path}.successThreshold", "must be 1 for liveness and startup probes")
    timing: dict[str, Any] = {
        "initial_delay_s": float(as_int(where, f"{path}.initialDelaySeconds",
                                        spec.get("initialDelaySeconds", 0))),
        "period_s": float(as_int(where, f"{path}.periodSeconds", spec.get("periodSeconds", 10),
                                 1)),
        "timeout_s": float(as_int(where, f"{path}.timeoutSeconds",
                                  spec.get("timeoutSeconds", 1), 1)),
        "success_threshold": success,
        "failure_threshold": as_int(where, f"{path}.failureThreshold",
                                    spec.get("failureThreshold", 3), 1),
    }
    action = as_map(where, f"{path}.{handler}", spec[handler])
    at = f"{path}.{handler}"
    if handler == "grpc":
        return Probe(
            grpc_port=_port_number(where, f"{at}.port", action.get("port")),
            grpc_service=as_str(where, f"{at}.service", action.get("service", "")),
            **timing,
        )
    port = _named_port(where, f"{at}.port", action.get("port"), ports)
    if handler == "httpGet":
        http_path = as_str(where, f"{at}.path", action.get("path", "/"))
        return Probe(http_path=http_path, http_port=port, **timing)
    return Probe(tcp_port=port, **timing)


def _port_number(where: Where, path: str, value: Any) -> int:
    if isinstance(value, str):
        raise where.error(path, f"{value!r}: a gRPC probe port must be a number, not a name")
    number = as_int(where, path, value, 1)
    if number > 65535:
        raise where.error(path, f"{number} is not a port")
    return number


def _named_port(where: Where, path: str, value: Any, ports: dict[str, int]) -> int:
    if isinstance(value, str):
        if value not in ports:
            known = ", ".join(ports) or "none"
            raise where.error(path, f"no container port named {value!r} (ports: {known})")
        return ports[value]
    return _port_number(where, path, value)


def _mounts(where: Where, path: str, raw: Any, volume_names: set[str]) -> dict[str, str]:
    mounts: dict[str, str] = {}
    for i, item in enumerate(as_list(where, path, raw)):
        entry = as_map(where, f"{path}[{i}]", item)
        volume = as_str(where, f"{path}[{i}].name", entry.get("name"))
        if volume not in volume_names:
            raise where.error(f"{path}[{i}].name", f"no volume named {volume!r}")
        mounts[as_str(where, f"{path}[{i}].mountPath", entry.get("mountPath"))] = volume
    return mounts


def _pre_stop_sleep_s(where: Where, path: str, raw: Any, notes: list[str]) -> float:
    pre_stop = as_map(where, f"{path}.preStop", as_map(where, path, raw).get("preStop"))
    if "sleep" in pre_stop:
        sleep = as_map(where, f"{path}.preStop.sleep", pre_stop["sleep"])
        return float(as_int(where, f"{path}.preStop.sleep.seconds", sleep.get("seconds")))
    command_path = f"{path}.preStop.exec.command"
    if "exec" in pre_stop:
        command = as_strs(where, command_path,
                          as_map(where, f"{path}.preStop.exec", pre_stop["exec"]).get("command"))
        if len(command) == 2 and command[0] in _SLEEP_COMMANDS:
            try:
                seconds = float(command[1])
            except ValueError:
                seconds = -1.0
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
        notes.append(where.note(command_path, "not a sleep"))
    return 0.0
