"""A TensorFlow-Serving-compatible model server: ``python -m tfsverify.serving [flags]``.

It stands in for ``tensorflow_model_server`` in the local target: same flags, same gRPC
and REST APIs, same metric names, same start-up order (the ports open only once the
initial models are AVAILABLE) and the same signal handling (SIGTERM is ignored, as
tensorflow/serving#1853 describes; SIGINT and SIGKILL end it).

Environment (set by the local target's supervisor):

* ``TFSVERIFY_BIND_HOST``: address the ports bind to (default ``0.0.0.0``).
* ``TFSVERIFY_MOUNTS``: JSON ``{container_path: host_path}``; every absolute path the
  server reads (config files, base paths) is mapped through it.
* ``TFSVERIFY_TF_THREADS``: TensorFlow intra- and inter-op threads (several replicas share
  few cores).

Exit codes: 2 for bad flags, config or models (nothing loadable), 3 when a port is in use.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tfsverify.errors import BadInput, TargetError, TfsverifyError
from tfsverify.serving.config import (
    MonitoringSettings,
    ServerModelConfig,
    load_model_config,
    load_monitoring_config,
    mounts_from_env,
    resolve_path,
    single_model_config,
)
from tfsverify.serving.flags import ServerFlags, parse_flags, usage
from tfsverify.serving.manager import ModelManager

log = logging.getLogger("tfsverify.serving")


@dataclass(frozen=True)
class Environment:
    bind_host: str = "0.0.0.0"
    mounts: tuple[tuple[str, str], ...] = ()
    tf_threads: int | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Environment:
        threads = env.get("TFSVERIFY_TF_THREADS", "")
        if threads and not threads.isdigit():
            raise BadInput(f"TFSVERIFY_TF_THREADS must be a whole number, got {threads!r}")
        mounts = mounts_from_env(env.get("TFSVERIFY_MOUNTS"))
        return cls(
            bind_host=env.get("TFSVERIFY_BIND_HOST") or "0.0.0.0",
            mounts=tuple(sorted(mounts.items())),
            tf_threads=int(threads) if threads else None,
        )


def initial_config(flags: ServerFlags, mounts: dict[str, str]) -> ServerModelConfig:
    """The model config of the flags, with every base path checked (BadInput if unusable)."""
    if flags.model_config_file:
        config = load_model_config(flags.model_config_file, mounts)
    elif flags.model_base_path:
        config = single_model_config(flags.model_name, flags.model_base_path)
    else:
        raise BadInput("Both --model_base_path and --model_config_file are empty")
    for model in config.models:
        host = resolve_path(model.base_path, mounts)
        shown = model.base_path if str(host) == model.base_path else f"{model.base_path} (= {host})"
        if not host.is_dir():
            raise BadInput(f"model {model.name}: base path {shown} does not exist")
        on_disk = {int(p.name) for p in host.iterdir() if p.name.isdigit() and p.is_dir()}
        if not model.policy.select(on_disk):
            raise BadInput(
                f"model {model.name}: no servable version under {shown} "
                f"(version policy {model.policy.kind})"
            )
    return config


def _refuse_initial_labels(config: ServerModelConfig) -> None:
    """TF Serving checks labels before the first load, when no version is available yet."""
    for model in config.models:
        for label, version in sorted(model.labels.items()):
            raise BadInput(
                "Failed to start server. Error: FAILED_PRECONDITION: Request to assign label to "
                f"version {version} of model {model.name}, which is not currently available for "
                f"inference (label {label!r}: labels at start-up need "
                "--allow_version_labels_for_unavailable_models=true)"
            )


def check_port_free(host: str, port: int, what: str) -> None:
    """Fail fast (TargetError, exit 3) when something already listens on ``port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise TargetError(f"{what} port {port} on {host} is in use: {exc.strerror}") from exc


def config_file_poll(
    path: str, mounts: dict[str, str], manager: ModelManager
) -> Callable[[], None]:
    """One poll of ``--model_config_file``: apply it when it differs from the live config.

    As in TF Serving, the file wins over a config pushed with HandleReloadConfigRequest.
    """

    def poll() -> None:
        new = load_model_config(path, mounts)
        if new != manager.config:
            log.info("model config file changed: reloading")
            manager.reload(new)

    return poll


def _every(interval_s: float, action: Callable[[], None], stop: threading.Event, name: str) -> None:
    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                action()
            except Exception as exc:  # a failed poll must not end polling
                log.error("%s failed: %s", name, exc)

    threading.Thread(target=loop, name=name, daemon=True).start()


def serve(flags: ServerFlags, env: Environment) -> None:
    """Load the models, open the ports and serve until SIGINT."""
    mounts = dict(env.mounts)
    config = initial_config(flags, mounts)
    monitoring = MonitoringSettings()
    if flags.monitoring_config_file:
        monitoring = load_monitoring_config(flags.monitoring_config_file, mounts)
    if not flags.allow_version_labels_for_unavailable_models:
        _refuse_initial_labels(config)
    check_port_free(env.bind_host, flags.port, "gRPC")
    if flags.rest_api_port:
        check_port_free(env.bind_host, flags.rest_api_port, "REST API")

    import tensorflow as tf  # TensorFlow before anything that imports serving.protos

    if env.tf_threads:
        tf.config.threading.set_intra_op_parallelism_threads(env.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(env.tf_threads)
    from tfsverify.serving.endpoints import open_endpoints

    start = time.monotonic()
    handles = open_endpoints(flags, env, config, monitoring)
    log.info("serving after %.1f s (%s)", time.monotonic() - start, ", ".join(handles.addresses))
    stop = threading.Event()
    if flags.file_system_poll_wait_seconds > 0:
        _every(flags.file_system_poll_wait_seconds, handles.manager.poll, stop, "file system poll")
    if flags.model_config_file and flags.model_config_file_poll_wait_seconds > 0:
        reread = config_file_poll(flags.model_config_file, mounts, handles.manager)
        _every(flags.model_config_file_poll_wait_seconds, reread, stop, "model config poll")
    _wait_for_sigint(stop)


def _wait_for_sigint(stop: threading.Event) -> None:
    def on_sigterm(signum: int, frame: Any) -> None:
        log.warning("SIGTERM received and ignored (as tensorflow_model_server does)")

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    while not stop.wait(3600):
        pass
    log.info("SIGINT received: exiting")


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname).1s %(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tfsverify.serving``; returns the exit code."""
    _setup_logging()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("--help", "-h", "--helpfull") for a in args):
        print(usage())
        return 0
    try:
        flags = parse_flags(args)
        for name in flags.ignored:
            print(f"ignored flag --{name}", file=sys.stderr)
        if flags.version:
            print("TensorFlow ModelServer: tfsverify (TF Serving API compatible)")
            return 0
        serve(flags, Environment.from_env(dict(os.environ)))
    except TfsverifyError as err:
        print(f"tfsverify model server: {err}", file=sys.stderr)
        return err.exit_code
    # end at once, killed by SIGINT, as tensorflow_model_server is (the OS closes the ports)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    return 130
