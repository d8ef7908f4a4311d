"""The command-line flags of ``tensorflow_model_server``, as this server understands them.

Flags are written ``--name=value`` or ``--name value``; a boolean flag alone means true.
Flags that the server models are listed in :class:`ServerFlags`. Other flags of TF Serving
are accepted and reported as ignored (``ignored flag --enable_batching``), so a manifest
written for the real server runs unchanged. Any other flag is refused, as TF Serving
refuses it (:class:`~tfsverify.errors.BadInput`, exit 2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tfsverify.errors import BadInput


@dataclass(frozen=True)
class ServerFlags:
    """The modelled flags, with TF Serving's defaults."""

    port: int = 8500
    grpc_socket_path: str = ""
    rest_api_port: int = 0
    model_name: str = "default"
    model_base_path: str = ""
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: int = 0
    file_system_poll_wait_seconds: int = 1
    monitoring_config_file: str = ""
    enable_grpc_healthcheck_service: bool = False
    allow_version_labels_for_unavailable_models: bool = False
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    enable_serialization_as_tensor_content: bool = False
    version: bool = False  # print the version and exit
    ignored: tuple[str, ...] = ()  # known TF Serving flags given but not modelled


# Flags of tensorflow_model_server (2.16-2.19 main.cc) that this server accepts and ignores.
IGNORED_FLAGS = frozenset(
    {
        "rest_api_num_threads",
        "rest_api_timeout_in_ms",
        "rest_api_enable_cors_support",
        "enable_batching",
        "enable_per_model_batching_parameters",
        "batching_parameters_file",
        "tensorflow_session_parallelism",
        "tensorflow_session_config_file",
        "tensorflow_intra_op_parallelism",
        "tensorflow_inter_op_parallelism",
        "num_load_threads",
        "num_unload_threads",
        "flush_filesystem_caches",
        "use_alts_credentials",
        "ssl_config_file",
        "platform_config_file",
        "per_process_gpu_memory_fraction",
        "saved_model_tags",
        "grpc_channel_arguments",
        "grpc_max_threads",
        "enable_model_warmup",
        "num_request_iterations_for_warmup",
        "remove_unused_fields_from_bundle_metagraph",
        "prefer_tflite_model",
        "num_tflite_pools",
        "num_tflite_interpreters_per_pool",
        "enable_signature_method_name_check",
        "xla_cpu_compilation_enabled",
        "enable_profiler",
        "thread_pool_factory_config_file",
        "mixed_precision",
        "skip_initialize_tpu",
        "use_tflite_model",
        "tfrt_enable_saved_model_warmup",
    }
)

_FIELDS = {f.name: f for f in dataclasses.fields(ServerFlags) if f.name != "ignored"}
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def _is_bool(name: str) -> bool:
    return name in _FIELDS and _FIELDS[name].type in (bool, "bool")


def parse_flags(argv: list[str]) -> ServerFlags:
    """Parse ``argv`` (without the program name) into :class:`ServerFlags`."""
    values: dict[str, object] = {}
    ignored: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            raise BadInput(f"unexpected argument {arg!r} (flags are --name=value)")
        name, has_value, value = arg.lstrip("-").partition("=")
        if name not in _FIELDS and name not in IGNORED_FLAGS:
            raise BadInput(f"unknown flag --{name}")
        if not has_value:
            if _is_bool(name):
                if i < len(argv) and argv[i].lower() in _TRUE | _FALSE:
                    value, i = argv[i], i + 1
                else:
                    value = "true"
            elif name in IGNORED_FLAGS:  # a boolean, or followed by its value
                if i < len(argv) and not argv[i].startswith("-"):
                    i += 1
            elif i < len(argv):
                value, i = argv[i], i + 1
            else:
                raise BadInput(f"flag --{name} needs a value")
        if name in IGNORED_FLAGS:
            ignored.append(name)
            continue
        values[name] = _convert(name, value)
    return ServerFlags(**values, ignored=tuple(ignored))  # type: ignore[arg-type]


def usage() -> str:
    """The modelled flags with their defaults, one per line (for ``--help``)."""
    defaults = ServerFlags()
    lines = ["usage: python -m tfsverify.serving [--flag=value ...]", "modelled flags:"]
    lines += [
        f"  --{name}={getattr(defaults, name)!s}".lower()
        if _is_bool(name)
        else f"  --{name}={getattr(defaults, name)}"
        for name in _FIELDS
    ]
    lines.append("accepted and ignored: " + " ".join(f"--{n}" for n in sorted(IGNORED_FLAGS)))
    return "\n".join(lines)


def _convert(name: str, value: str) -> object:
    kind = _FIELDS[name].type
    if kind in (bool, "bool"):
        low = value.lower()
        if low not in _TRUE | _FALSE:
            raise BadInput(f"flag --{name}: invalid bool value {value!r} (true or false)")
        return low in _TRUE
    if kind in (int, "int"):
        try:
            number = int(value)
        except ValueError as exc:
            raise BadInput(f"flag --{name}: invalid integer value {value!r}") from exc
        if name.endswith("port") and not 0 <= number <= 65535:
            raise BadInput(f"flag --{name}: port {number} out of range")
        return number
    return value
