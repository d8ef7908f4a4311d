"""Train and export the anomaly-detection model that the reference deployment serves.

The model is a small autoencoder (16 -> 8 -> 4 -> 8 -> 16) over 16 synthetic machine
sensors: four vibration axes, four temperatures, motor current and power, speed, pressure,
flow, humidity, acoustic level and oil quality, all driven by a few hidden causes (load,
ambient temperature, rotation phase) plus noise. A row the model cannot reconstruct well is
an anomaly: its ``score`` is the mean squared reconstruction error over the 16 features,
in units of each feature's standard deviation on the training data.

It is plain TensorFlow (``tf.Module``, ``tf.Variable``, ``GradientTape``), not Keras, so the
SavedModel loads with ``tf.saved_model.load`` and in a stock ``tensorflow_model_server``.
Signature ``serving_default``: input ``features`` float32 ``[None, 16]`` (raw sensor values);
outputs ``score`` float32 ``[None]`` and ``reconstruction`` float32 ``[None, 16]``.

``python -m tfsverify.serving.model --out reference-deploy/model`` writes, in a few seconds,
the TF Serving layout ``<out>/anomaly-detection/{1,2}/`` (version 2: other seed, longer
training, so its scores differ measurably) and ``<out>/golden.json`` (see ``golden.py``),
whose expected scores are computed by the exported SavedModels themselves.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

MODEL_NAME = "anomaly-detection"
NUM_FEATURES = 16
LAYER_SIZES = (16, 8, 4, 8, 16)
ABS_TOL = 1e-5
REL_TOL = 1e-3  # far above float32 rounding of a float64 computation, far below version gaps


@dataclass(frozen=True)
class VersionRecipe:
    version: int
    seed: int
    steps: int


RECIPES = (VersionRecipe(1, seed=11, steps=600), VersionRecipe(2, seed=37, steps=1200))


def sensor_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` rows of healthy sensor readings, float32 ``[n, 16]``."""
    phase = rng.uniform(0.0, 2 * np.pi, n)
    load = rng.uniform(0.2, 1.0, n)
    ambient = rng.normal(20.0, 3.0, n)
    noise = rng.normal(0.0, 1.0, (n, NUM_FEATURES))
    cols = []
    for k in range(4):  # vibration axes
        cols.append(load * (1 + 0.2 * k) * np.sin(phase + k * np.pi / 4) + 0.05 * noise[:, k])
    for k in range(4):  # temperatures
        cols.append(ambient + (25 + 5 * k) * load + 2 * np.cos(phase) + 0.3 * noise[:, 4 + k])
    current = 10 * load + 0.2 * noise[:, 8]
    cols.append(current)
    cols.append(current * (230 + noise[:, 9]) / 1000)  # power, kW
    cols.append(1500 * load + 50 * np.sin(phase) + 10 * noise[:, 10])  # rpm
    pressure = 3 + 2 * load + 0.1 * np.sin(2 * phase) + 0.05 * noise[:, 11]
    cols.append(pressure)
    cols.append(0.8 * pressure + 0.05 * noise[:, 12])  # flow
    cols.append(50 - 0.5 * (ambient - 20) + 1.0 * noise[:, 13])  # humidity
    cols.append(60 + 20 * load + 3 * np.abs(np.sin(phase)) + 0.5 * noise[:, 14])  # acoustic
    cols.append(0.9 - 0.1 * load + 0.01 * noise[:, 15])  # oil quality
    return np.stack(cols, axis=1).astype(np.float32)


def faulty_rows(rng: np.random.Generator, n: int, std: np.ndarray) -> np.ndarray:
    """``n`` anomalous rows: spikes, overheating at low load, dead sensors, inverted axes."""
    rows = sensor_rows(rng, n).copy()
    for i in range(n):
        kind = i % 4
        if kind == 0:  # a spike on one sensor
            j = int(rng.integers(NUM_FEATURES))
            rows[i, j] += 8 * std[j]
        elif kind == 1:  # temperatures high while the load is not
            rows[i, 4:8] += 6 * std[4:8]
        elif kind == 2:  # speed collapses while current keeps flowing
            rows[i, 10] -= 5 * std[10]
        else:  # vibration axes inverted and amplified
            rows[i, 0:4] = -3 * rows[i, 0:4] - 2 * std[0:4]
    return rows


class AnomalyAutoencoder(tf.Module):
    """The served module: normalise, encode to 4 numbers, decode, score."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, seed: int) -> None:
        super().__init__(name="anomaly_autoencoder")
        rng = np.random.default_rng(seed)
        self.mean = tf.Variable(mean.astype(np.float32), trainable=False, name="mean")
        self.std = tf.Variable(std.astype(np.float32), trainable=False, name="std")
        self.weights = []
        self.biases = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(LAYER_SIZES)):
            limit = np.sqrt(6.0 / (n_in + n_out))
            w = rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32)
            self.weights.append(tf.Variable(w, name=f"w{i}"))
            self.biases.append(tf.Variable(np.zeros(n_out, np.float32), name=f"b{i}"))

    def forward(self, z: tf.Tensor) -> tf.Tensor:
        """Reconstruct normalised rows: tanh, linear bottleneck, tanh, linear output.

        Computes in ``z``'s dtype (float32 in training, float64 when serving).
        """
        w = [tf.cast(v, z.dtype) for v in self.weights]
        b = [tf.cast(v, z.dtype) for v in self.biases]
        h = tf.tanh(z @ w[0] + b[0])
        h = h @ w[1] + b[1]
        h = tf.tanh(h @ w[2] + b[2])
        return h @ w[3] + b[3]

    @tf.function(input_signature=[tf.TensorSpec([None, NUM_FEATURES], tf.float32)])
    def serve(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        # float64 inside: GPUs run float32 matmuls as TF32 by default (about 1e-3 relative
        # error), which would move scores by up to 1%; float64 matmuls are never TF32, so
        # every CPU and GPU returns the golden scores within a float32 rounding.
        mean, std = tf.cast(self.mean, tf.float64), tf.cast(self.std, tf.float64)
        z = (tf.cast(features, tf.float64) - mean) / std
        r = self.forward(z)
        return {
            "score": tf.cast(tf.reduce_mean(tf.square(z - r), axis=1), tf.float32),
            "reconstruction": tf.cast(r * std + mean, tf.float32),
        }


def train(data: np.ndarray, recipe: VersionRecipe) -> AnomalyAutoencoder:
    """Full-batch Adam on the normalised rows; deterministic for one TF build and CPU."""
    mean, std = data.mean(axis=0), data.std(axis=0)
    model = AnomalyAutoencoder(mean, std, recipe.seed)
    z = tf.constant((data - mean) / std, tf.float32)
    params = [*model.weights, *model.biases]
    m = [tf.Variable(tf.zeros_like(p)) for p in params]
    v = [tf.Variable(tf.zeros_like(p)) for p in params]
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8

    @tf.function
    def step(t: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model.forward(z) - z))
        grads = tape.gradient(loss, params)
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            mi.assign(b1 * mi + (1 - b1) * g)
            vi.assign(b2 * vi + (1 - b2) * g * g)
            m_hat = mi / (1 - b1**t)
            v_hat = vi / (1 - b2**t)
            p.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + eps))
        return loss

    for t in range(1, recipe.steps + 1):
        step(tf.constant(float(t)))
    return model


def export_version(model: AnomalyAutoencoder, out: Path, version: int) -> Path:
    """Write one SavedModel atomically to ``<out>/anomaly-detection/<version>``."""
    base = out / MODEL_NAME
    base.mkdir(parents=True, exist_ok=True)
    final, tmp = base / str(version), base / f".tmp-{version}"
    shutil.rmtree(tmp, ignore_errors=True)
    signature = model.serve.get_concrete_function()
    tf.saved_model.save(model, str(tmp), signatures={"serving_default": signature})
    assets = tmp / "assets"
    if assets.is_dir() and not any(assets.iterdir()):
        assets.rmdir()  # git keeps no empty directories: ship exactly what is committed
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def served_scores(path: Path, rows: np.ndarray) -> np.ndarray:
    """Scores as the exported SavedModel computes them (the golden truth)."""
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return serve(features=tf.constant(rows))["score"].numpy()


def build(out: Path) -> dict[str, Any]:
    """Train, export both versions and return the golden document (also written)."""
    train_rows = sensor_rows(np.random.default_rng(1), 4096)
    std = train_rows.std(axis=0)
    check_rows = sensor_rows(np.random.default_rng(2), 2000)
    normal = check_rows[:8]
    anomalous = faulty_rows(np.random.default_rng(3), 8, std)
    inputs = np.concatenate([normal, anomalous])
    flags = [False] * len(normal) + [True] * len(anomalous)
    versions: dict[str, Any] = {}
    for recipe in RECIPES:
        path = export_version(train(train_rows, recipe), out, recipe.version)
        check = served_scores(path, check_rows)
        threshold = float(np.float32(1.5 * np.quantile(check, 0.999)))
        scores = served_scores(path, inputs)
        wrong = [i for i, s in enumerate(scores) if (s > threshold) != flags[i]]
        if wrong:
            raise RuntimeError(f"version {recipe.version}: threshold misclassifies rows {wrong}")
        if versions:  # every row must tell the versions apart, far beyond the tolerance
            first = np.asarray(versions["1"]["scores"])
            rel = np.abs(scores - first) / np.maximum(scores, first)
            if rel.min() < 10 * REL_TOL:
                raise RuntimeError(
                    f"version {recipe.version}: scores too close to v1 ({rel.min()})"
                )
        versions[str(recipe.version)] = {
            "threshold": threshold,
            "abs_tol": ABS_TOL,
            "rel_tol": REL_TOL,
            "scores": [float(s) for s in scores],
        }
    golden = {
        "format": 1,
        "model_name": MODEL_NAME,
        "signature_name": "serving_default",
        "input_name": "features",
        "output_name": "score",
        "tensorflow": tf.__version__,
        "inputs": [[float(x) for x in row] for row in inputs],
        "anomalous": flags,
        "versions": versions,
    }
    (out / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")
    return golden


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfsverify.serving.model", description=__doc__)
    parser.add_argument(
        "--out", type=Path, required=True, help="model root, e.g. reference-deploy/model"
    )
    args = parser.parse_args(argv)
    golden = build(args.out)
    for version, entry in golden["versions"].items():
        scores = np.asarray(entry["scores"])
        print(
            f"{MODEL_NAME}/{version}: threshold {entry['threshold']:.4f}, "
            f"normal max {scores[:8].max():.4f}, anomalous min {scores[8:].min():.4f}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
