"""Golden requests, serialised once, and the check of every answer against them.

The engine rotates over up to 64 batches of golden rows. Each batch becomes a Predict
request serialised to bytes once, before the run; each answer is parsed and its ``score``
compared with the golden scores, within the tolerance, of the model version that answered
(the response's ``model_spec.version``; the golden set's own version when a server does not
name it), so both tracks of a canary rollout are checked. An answer that does not parse,
lacks the output, comes from a version without golden scores or holds other numbers is a
*wrong answer*, counted apart from gRPC errors: a replica that serves wrong numbers fast
must not look healthy.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from google.protobuf.message import DecodeError

from tfsverify.errors import TfsverifyError
from tfsverify.serving.protos import predict_pb2
from tfsverify.serving.requests import output_array, predict_request

MAX_BATCHES = 64
MAX_KNOWN_GOOD = 8  # distinct right answers remembered per batch


class AnswerKey(Protocol):
    """What the engine needs of a golden set (:class:`tfsverify.serving.golden.GoldenSet`)."""

    @property
    def model_name(self) -> str: ...
    @property
    def input_name(self) -> str: ...
    @property
    def output_name(self) -> str: ...
    @property
    def signature_name(self) -> str: ...
    def __len__(self) -> int: ...
    def batch(self, size: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]: ...
    def matches(self, got: np.ndarray, expected: np.ndarray) -> bool: ...
    @property
    def versions(self) -> tuple[int, ...]: ...
    def for_version(self, version: int) -> AnswerKey | None: ...


class Payloads:
    """Pre-serialised golden requests; request ``i`` uses batch ``i % len(payloads)``."""

    def __init__(
        self, golden: AnswerKey, batch_size: int = 1, model_version: int | None = None
    ) -> None:
        self.golden = golden
        count = max(1, min(MAX_BATCHES, len(golden) // batch_size))
        self._own_version = golden.versions[0]
        # version -> (its answer key, expected scores per batch)
        self._by_version: dict[int, tuple[AnswerKey, list[np.ndarray]]] = {}
        for version in golden.versions:
            key = golden.for_version(version)
            assert key is not None
            self._by_version[version] = (key, [
                np.asarray(key.batch(batch_size, offset=number * batch_size)[1])
                for number in range(count)])
        self.expected = self._by_version[self._own_version][1]  # the golden set's version
        self.bodies: list[bytes] = []
        # per batch: answers already found right -> the version that gave them
        self._known_good: list[dict[bytes, int]] = []
        for number in range(count):
            inputs = golden.batch(batch_size, offset=number * batch_size)[0]
            request = predict_request(
                golden.model_name,
                inputs,
                input_name=golden.input_name,
                version=model_version,
                signature=golden.signature_name,
            )
            self.bodies.append(request.SerializeToString())
            self._known_good.append({})

    def __len__(self) -> int:
        return len(self.bodies)

    def check(self, raw: bytes, number: int) -> bool:
        """Whether ``raw`` (a serialised PredictResponse) answers batch ``number`` right."""
        return self.answered_version(raw, number) is not None

    def answered_version(self, raw: bytes, number: int) -> int | None:
        """The model version whose golden answer to batch ``number`` ``raw`` is (the golden
        set's own version when the server names none); ``None`` when it is wrong.

        An answer byte-identical to one already found right is right without parsing it
        again (servers repeat themselves), which saves most of the checking time.
        """
        known = self._known_good[number]
        version = known.get(raw)
        if version is not None:
            return version
        try:
            response = predict_pb2.PredictResponse.FromString(raw)
            got = output_array(response, self.golden.output_name)
        except (DecodeError, TfsverifyError):
            return None
        version = response.model_spec.version.value or self._own_version
        entry = self._by_version.get(version)
        if entry is None or not entry[0].matches(got, entry[1][number]):
            return None
        if len(known) < MAX_KNOWN_GOOD:
            known[raw] = version
        return version
