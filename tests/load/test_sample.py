"""Sampling answers through the mesh client: who answered, right or wrong, over real gRPC."""

from __future__ import annotations

import pytest

from tfsverify.errors import BadInput
from tfsverify.load.mesh import Upstream
from tfsverify.load.sample import sample_answers
from tfsverify.serving.golden import GoldenSet, load_golden

from .conftest import FakePredictServer


def test_answers_are_counted_by_the_version_that_gave_them(golden: GoldenSet) -> None:
    v1 = FakePredictServer(golden).start()
    v2 = FakePredictServer(load_golden(version=2)).start()
    v1.names_version = v2.names_version = True
    try:
        upstream = Upstream((v1.address, v2.address),
                            split=((75, (v1.address,)), (25, (v2.address,))))
        sample = sample_answers(lambda: upstream, golden, requests=400)
        assert sample.wrong == 0 and not sample.failed_by_status, sample.describe()
        assert 18 <= sample.share_pct(2) <= 32 and sample.share_pct(1) + sample.share_pct(2) == 100
        assert v1.received + v2.received == 400
        # v2's numbers under v1's name: wrong; a silent server counts as the golden version
        v2.golden = golden
        before = v2.received
        v1.names_version = False
        v2.wrong = True
        mixed = sample_answers(lambda: upstream, golden, requests=200)
        assert mixed.wrong == v2.received - before > 0
        assert mixed.right_by_version == {1: 200 - mixed.wrong}
    finally:
        v1.stop()
        v2.stop()


def test_failures_and_bounds(golden: GoldenSet) -> None:
    import grpc

    server = FakePredictServer(golden).start()
    server.fail_with = grpc.StatusCode.RESOURCE_EXHAUSTED
    try:
        sample = sample_answers(lambda: Upstream((server.address,)), golden, requests=20)
        assert sample.failed_by_status == {"RESOURCE_EXHAUSTED": 20}
        nowhere = sample_answers(lambda: Upstream(()), golden, requests=5)
        assert nowhere.failed_by_status == {"UNAVAILABLE": 5}
    finally:
        server.stop()
    with pytest.raises(BadInput, match="requests=0"):
        sample_answers(lambda: Upstream(()), golden, requests=0)
