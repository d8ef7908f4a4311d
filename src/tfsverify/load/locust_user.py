"""Locust integration: a TF Serving Predict user and a shape driven by a load profile.

IMPORTS LOCUST (and so gevent's monkey-patching). Import it only from
``scenarios/locustfile.py``; nothing else in tfsverify may import this module.

Locust users are closed loops: each waits for its answer before the next request. To
follow a profile's *rate* the shape runs ``ceil(rate / per_user_rps)`` users that each send
at most ``per_user_rps`` requests per second (``constant_throughput``). Latencies are
measured from the actual send, so a stall hides the requests that were never sent
(coordinated omission), and Locust's percentiles are rounded to 2 significant digits: use
the tfsverify engine (``tfsverify load``) for SLO gates, Locust for its web UI and
distributed runs.

Options added to Locust's command line (or ``TFSVERIFY_*`` environment variables):
``--tfsverify-profile FILE``, ``--tfsverify-per-user-rps``, ``--tfsverify-golden FILE``,
``--tfsverify-ca/-cert/-key FILE`` and ``--tfsverify-server-name NAME`` for (mutual) TLS.
``--host`` is the server's ``host:port``.
"""

from __future__ import annotations

import math
import time
from functools import cached_property
from pathlib import Path
from typing import Any

import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import LoadTestShape, User, constant_throughput, events, task

from tfsverify.load.mesh import ClientTls
from tfsverify.load.payloads import Payloads
from tfsverify.load.profiles import Profile, load_profile
from tfsverify.load.schedule import Segment, rate_at, segments
from tfsverify.serving.golden import load_golden
from tfsverify.serving.protos import PREDICT_METHOD

grpc_gevent.init_gevent()  # grpc must cooperate with gevent; done before any channel exists


class WrongAnswer(Exception):
    """The server answered, with scores that differ from the golden ones."""


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("tfsverify")
    group.add_argument(
        "--tfsverify-profile",
        env_var="TFSVERIFY_PROFILE",
        default="scenarios/profiles/constant.yaml",
        help="load profile YAML",
    )
    group.add_argument(
        "--tfsverify-per-user-rps",
        env_var="TFSVERIFY_PER_USER_RPS",
        type=float,
        default=1.0,
        help="requests per second of one user",
    )
    group.add_argument("--tfsverify-golden", env_var="TFSVERIFY_GOLDEN", default=None)
    group.add_argument("--tfsverify-ca", env_var="TFSVERIFY_CA", default=None)
    group.add_argument("--tfsverify-cert", env_var="TFSVERIFY_CERT", default=None)
    group.add_argument("--tfsverify-key", env_var="TFSVERIFY_KEY", default=None)
    group.add_argument("--tfsverify-server-name", env_var="TFSVERIFY_SERVER_NAME", default=None)


class PredictUser(User):
    """Sends golden Predict requests to ``--host`` and reports each to Locust's stats."""

    def wait_time(self) -> float:
        """At most ``--tfsverify-per-user-rps`` requests per second (``constant_throughput``)."""
        return float(self._pacing(self))

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self._pacing = constant_throughput(getattr(options, "tfsverify_per_user_rps", 1.0))
        profile = _profile(options)
        golden = load_golden(getattr(options, "tfsverify_golden", None))
        self.payloads = Payloads(golden, profile.batch_size, profile.model_version)
        self.deadline_s = profile.deadline_ms / 1000
        self.number = 0
        self.channel = _channel(self.host or "127.0.0.1:8500", options)
        self.call = self.channel.unary_unary(PREDICT_METHOD)

    def on_stop(self) -> None:
        self.channel.close()

    @task
    def predict(self) -> None:
        batch = self.number % len(self.payloads)
        self.number += 1
        body = self.payloads.bodies[batch]
        exception: Exception | None = None
        length = 0
        start = time.perf_counter()
        try:
            raw = self.call(body, timeout=self.deadline_s)
            length = len(raw)
            if not self.payloads.check(raw, batch):
                exception = WrongAnswer("scores differ from the golden ones")
        except grpc.RpcError as exc:
            exception = exc
        self.environment.events.request.fire(
            request_type="grpc",
            name="Predict",
            response_time=(time.perf_counter() - start) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )


class ProfileShape(LoadTestShape):
    """Follows the profile's rate by running ``ceil(rate / per_user_rps)`` users."""

    @cached_property
    def plan(self) -> tuple[Segment, ...]:
        assert self.runner is not None, "Locust sets the runner before the first tick"
        return segments(_profile(self.runner.environment.parsed_options))

    def tick(self) -> tuple[int, float] | None:
        rate = rate_at(self.plan, self.get_run_time())
        if rate is None:
            return None
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        per_user = getattr(options, "tfsverify_per_user_rps", 1.0)
        users = math.ceil(rate / per_user)
        return users, float(max(users, 1))  # reach the new user count within a second


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _profile(options: Any) -> Profile:
    return load_profile(getattr(options, "tfsverify_profile", "scenarios/profiles/constant.yaml"))


def _channel(address: str, options: Any) -> grpc.Channel:
    address = address.removeprefix("grpc://").removeprefix("http://")
    ca = getattr(options, "tfsverify_ca", None)
    if not ca:
        return grpc.insecure_channel(address)
    cert, key = getattr(options, "tfsverify_cert", None), getattr(options, "tfsverify_key", None)
    name = getattr(options, "tfsverify_server_name", None)
    tls = ClientTls(Path(ca), _path(cert), _path(key), name)
    extra = [("grpc.ssl_target_name_override", name)] if name else []
    return grpc.secure_channel(address, tls.credentials(), options=extra)
