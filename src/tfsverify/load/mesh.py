"""A meshed client, the way Istio's sidecar reaches a service.

The client holds an identity (a certificate from the mesh CA) and talks mutual TLS to every
ready endpoint of the service, with one HTTP/2 channel per endpoint address, balancing each
request over the endpoints (round robin, or least request with two random choices like
Envoy's default) and refreshing the endpoint list while it runs, as Envoy does from EDS:
new or restarted pods get traffic again, removed ones stop getting it. With no ready
endpoint a request fails at once with UNAVAILABLE ("no healthy upstream", Envoy's words).
Where the endpoint carries the route's retry policy, failed tries are retried on another
endpoint as the sidecar would (:mod:`tfsverify.load.retries`).

Plain address mode is the same with one fixed address, in plaintext or TLS.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from tfsverify.errors import BadInput, TargetError
from tfsverify.serving.protos import PREDICT_METHOD
from tfsverify.targets.base import Endpoint, RoutePolicy, TlsMaterial

_CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    # each channel owns its connection: a restarted pod at the same address gets a fresh one
    ("grpc.use_local_subchannel_pool", 1),
    # reconnect quickly after a pod restarts (gRPC's default backoff starts at 1 s, up to 120 s)
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True)
class ClientTls:
    """TLS for the client: the CA to trust, and for mutual TLS its own certificate and key."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None

    @classmethod
    def from_material(cls, material: TlsMaterial) -> ClientTls:
        return cls(material.ca, material.cert, material.key, material.server_name or None)

    def check_files(self) -> None:
        """Raise :class:`BadInput` naming the first file that cannot be read."""
        self._read_all()

    def credentials(self) -> grpc.ChannelCredentials:
        ca, key, cert = self._read_all()
        return grpc.ssl_channel_credentials(ca, key, cert)

    def _read_all(self) -> tuple[bytes, bytes | None, bytes | None]:
        if (self.cert is None) != (self.key is None):
            raise BadInput("a client certificate needs its key and a key needs its certificate")
        return _read(self.ca, "CA"), _read(self.key, "key"), _read(self.cert, "certificate")


@dataclass(frozen=True)
class Upstream:
    """The ready endpoint addresses (``host:port``), how to secure the connections, and the
    route's retry policy that the client applies (``None``: no retries)."""

    addresses: tuple[str, ...]
    tls: ClientTls | None = None
    route: RoutePolicy | None = None
    # weighted destinations: (weight, addresses); empty: every address takes a share
    split: tuple[tuple[int, tuple[str, ...]], ...] = ()


EndpointSource = Callable[[], "Endpoint | Upstream"]


def as_upstream(endpoint: Endpoint | Upstream) -> Upstream:
    """Accept a target's :class:`Endpoint` or an :class:`Upstream` alike."""
    if isinstance(endpoint, Upstream):
        return endpoint
    tls = ClientTls.from_material(endpoint.tls) if endpoint.tls is not None else None
    return Upstream(tuple(endpoint.addresses), tls, endpoint.route, endpoint.split)


def fixed_upstream(address: str, tls: ClientTls | None = None) -> Callable[[], Upstream]:
    """An endpoint source for plain address mode: always the same ``host:port``."""
    check_address(address)
    upstream = Upstream((address,), tls)
    return lambda: upstream


def check_address(address: str) -> None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInput(f"{address!r} is not a host:port address")


def open_channel(address: str, tls: ClientTls | None) -> grpc.aio.Channel:
    """A grpc.aio channel to one endpoint; call only inside the process that will use it."""
    if tls is None:
        return grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS)
    options = list(_CHANNEL_OPTIONS)
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.aio.secure_channel(address, tls.credentials(), options=options)


async def wait_reachable(upstream: Upstream, timeout_s: float) -> None:
    """Raise :class:`TargetError` unless every address accepts a connection (TLS included).

    Fails as soon as a connection attempt fails (refused, TLS handshake), else after
    ``timeout_s`` without a connection.
    """
    for address in upstream.addresses:
        channel = open_channel(address, upstream.tls)
        try:
            state = await asyncio.wait_for(_first_outcome(channel), timeout_s)
        except TimeoutError:
            state = None
        finally:
            await channel.close()
        if state is not grpc.ChannelConnectivity.READY:
            how = "TLS " if upstream.tls else ""
            why = (
                f"no {how}connection within {timeout_s:g} s"
                if state is None
                else f"the {how}connection failed (refused, or the handshake failed)"
            )
            raise TargetError(f"cannot reach {address}: {why}")


async def _first_outcome(channel: grpc.aio.Channel) -> grpc.ChannelConnectivity:
    state = channel.get_state(try_to_connect=True)
    final = (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE)
    while state not in final:
        await channel.wait_for_state_change(state)
        state = channel.get_state(try_to_connect=True)
    return state


class Host:
    """One endpoint: its channel, its Predict call and the requests in flight on it."""

    __slots__ = ("address", "call", "channel", "in_flight")

    def __init__(self, address: str, channel: grpc.aio.Channel) -> None:
        self.address = address
        self.channel = channel
        # bytes in, bytes out: requests are serialised once, answers parsed by the caller
        self.call = channel.unary_unary(PREDICT_METHOD)
        self.in_flight = 0


class Pool:
    """The channels to the current endpoints and the per-request balancer over them.

    With a weighted split (a route to several subsets) each request first draws its
    destination by weight, as Envoy's weighted clusters do, then an endpoint within it; a
    destination without a ready endpoint fails the request (``pick`` gives ``None``), as
    Istio answers "no healthy upstream". Retries stay within the first try's destination.
    """

    def __init__(self, balancing: str = "round_robin", drain_s: float = 1.0, seed: int = 0):
        if balancing not in ("round_robin", "least_request"):
            raise BadInput(f"unknown balancing {balancing!r}: round_robin or least_request")
        self._least_request = balancing == "least_request"
        self._drain_s = drain_s
        self._random = random.Random(seed)
        self._tls: ClientTls | None = None
        self._hosts: dict[str, Host] = {}
        self._ring: tuple[Host, ...] = ()  # every endpoint
        self._rings: tuple[tuple[Host, ...], ...] = ()  # per destination of weight > 0
        self._cumulative: tuple[int, ...] = ()  # running sum of the destinations' weights
        self._destination: dict[str, int] = {}  # address -> its (first) destination
        self._cursors: list[int] = []
        self._retry_cursor = 0
        self._closing: set[asyncio.Task[None]] = set()
        self.sent_by_address: Counter[str] = Counter()
        self.addresses_seen: set[str] = set()

    @property
    def size(self) -> int:
        return len(self._ring)

    def update(self, upstream: Upstream) -> None:
        """Open channels to new addresses and close (after a drain) those no longer listed."""
        split = upstream.split or ((1, upstream.addresses),)
        wanted = dict.fromkeys(
            [*upstream.addresses, *(a for _, addresses in split for a in addresses)])
        if upstream.tls != self._tls:  # new identity or CA: reconnect everything
            if upstream.tls is not None:
                upstream.tls.check_files()
            for host in list(self._hosts.values()):
                self._retire(host)
            self._tls = upstream.tls
        for address in list(self._hosts):
            if address not in wanted:
                self._retire(self._hosts[address])
        for address in wanted:
            if address not in self._hosts:
                self._hosts[address] = Host(address, open_channel(address, self._tls))
                self.addresses_seen.add(address)
        self._ring = tuple(self._hosts[address] for address in wanted)
        taking = [(weight, addresses) for weight, addresses in split if weight > 0]
        rings = tuple(tuple(self._hosts[a] for a in dict.fromkeys(addresses))
                      for _, addresses in taking)
        if rings != self._rings:
            self._cursors = [0] * len(rings)
        self._rings = rings
        self._cumulative = tuple(itertools.accumulate(weight for weight, _ in taking))
        self._destination = {}
        for number, ring in enumerate(rings):
            for host in ring:
                self._destination.setdefault(host.address, number)

    def pick(self) -> Host | None:
        """The endpoint for the next request, or ``None`` when its destination has no ready
        endpoint."""
        rings = self._rings
        if len(rings) == 1:
            number = 0
        elif not rings:
            return None
        else:
            drawn = self._random.random() * self._cumulative[-1]
            number = bisect.bisect_right(self._cumulative, drawn)
        ring = rings[number]
        if not ring:
            return None
        if self._least_request and len(ring) > 1:
            first, second = self._random.sample(ring, 2)
            host = second if second.in_flight < first.in_flight else first
        else:
            self._cursors[number] += 1
            host = ring[self._cursors[number] % len(ring)]
        self.sent_by_address[host.address] += 1
        return host

    def pick_retry(self, tried: set[str]) -> Host | None:
        """The endpoint for a retry, within the destination of the first try: one not
        ``tried`` yet when there is one (Istio's ``retryIgnorePreviousHosts``), else any;
        ``None`` when there is no ready endpoint."""
        number = next((self._destination[a] for a in tried if a in self._destination), None)
        ring = self._rings[number] if number is not None else self._ring
        if not ring:
            return None
        fresh = [host for host in ring if host.address not in tried] or ring
        self._retry_cursor += 1  # apart from first tries, whose rotation stays as it was
        return fresh[self._retry_cursor % len(fresh)]

    async def close(self) -> None:
        for host in list(self._hosts.values()):
            self._retire(host)
        self._ring = ()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _retire(self, host: Host) -> None:
        del self._hosts[host.address]
        task = asyncio.get_running_loop().create_task(host.channel.close(self._drain_s))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _read(path: Path | None, what: str) -> Any:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise BadInput(f"TLS {what} file {path} does not exist") from exc
    except OSError as exc:
        raise BadInput(f"TLS {what} file {path} cannot be read: {exc.strerror}") from exc
