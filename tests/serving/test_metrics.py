"""TF Serving's metric names in the Prometheus text format."""

from tfsverify.serving.metrics import LATENCY_BUCKETS_US, ServingMetrics


def test_names_labels_and_cumulative_buckets() -> None:
    metrics = ServingMetrics()
    metrics.count_request("m", "OK")
    metrics.count_request("m", "OK")
    metrics.count_request("m", "NOT_FOUND")
    metrics.observe_latency("m", "Predict", "GRPC", 5.0)
    metrics.observe_latency("m", "Predict", "GRPC", 1500.0)
    metrics.count_load("/models/m/1", ok=True)
    text = metrics.render()
    lines = text.splitlines()
    assert ':tensorflow:serving:request_count{model_name="m",status="OK"} 2' in lines
    assert ':tensorflow:serving:request_count{model_name="m",status="NOT_FOUND"} 1' in lines
    assert (
        ':tensorflow:cc:saved_model:load_attempt_count{model_path="/models/m/1",status="success"} 1'
        in lines
    )
    assert "# TYPE :tensorflow:serving:request_latency histogram" in lines
    base = 'model_name="m",API="Predict",entrypoint="GRPC"'
    assert f':tensorflow:serving:request_latency_bucket{{{base},le="10"}} 1' in lines
    assert f':tensorflow:serving:request_latency_bucket{{{base},le="+Inf"}} 2' in lines
    assert f":tensorflow:serving:request_latency_count{{{base}}} 2" in lines
    assert f":tensorflow:serving:request_latency_sum{{{base}}} 1505" in lines
    assert "_total" not in text
    buckets = [line for line in lines if "_bucket" in line]
    assert len(buckets) == len(LATENCY_BUCKETS_US) + 1 == 34
    counts = [int(line.rsplit(" ", 1)[1]) for line in buckets]
    assert counts == sorted(counts)
    assert metrics.request_count("m", "OK") == 2


def test_buckets_are_tensorflows_exponential_ones() -> None:
    assert LATENCY_BUCKETS_US[0] == 10
    assert abs(LATENCY_BUCKETS_US[1] - 18) < 1e-9
    assert abs(LATENCY_BUCKETS_US[-1] / LATENCY_BUCKETS_US[-2] - 1.8) < 1e-9


def test_label_values_are_escaped() -> None:
    metrics = ServingMetrics()
    metrics.count_request('we"ird\\', "OK")
    assert 'model_name="we\\"ird\\\\"' in metrics.render()
