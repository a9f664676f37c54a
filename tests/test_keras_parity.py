"""Keras' own weight files against live Keras 3 (torch backend): layer order, each format, forward parity.

The oracle is ``keras.applications.ResNet50(weights=None)`` itself, built once per module (~20 s):
its ``model.layers`` order, the files its ``save_weights``/``save`` write and read, and its own
forward pass. Bound (issue 8): max|ours − Keras| ≤ 1e-4 × max|Keras| in float32. Skipped when
Keras is not importable; the ``keras`` extra and ``.ci/run`` install it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from resnet_inspect import build_graph, load_spec  # noqa: E402
from resnet_inspect.executor import forward  # noqa: E402
from resnet_inspect.kerasio import keras_order  # noqa: E402
from resnet_inspect.naming import names_in  # noqa: E402
from resnet_inspect.weightio import load_weights, save_weights  # noqa: E402
from resnet_inspect.weights import random_weights  # noqa: E402

pytestmark = pytest.mark.keras
HW = (64, 64)  # valid for the global pool (stage 5 is 2×2) and keeps both forward passes fast
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def resnet50():
    if keras.backend.backend() != "torch":
        pytest.skip(f"KERAS_BACKEND is {keras.backend.backend()}; these tests run Keras on torch")
    model = keras.applications.ResNet50(weights=None, input_shape=(*HW, 3))
    graph = build_graph(load_spec("resnet50-keras3"))
    weights = random_weights(graph, seed=3, dtype="float32")
    x = np.random.default_rng(4).normal(size=(2, *HW, 3)).astype("float32")
    return model, graph, weights, x


def relative_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours.astype(np.float64) - theirs).max() / np.abs(theirs).max())


def keras_output(model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


def same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for layer in a:
        assert a[layer].keys() == b[layer].keys(), layer
        for key in a[layer]:
            np.testing.assert_array_equal(a[layer][key], b[layer][key], err_msg=f"{layer}/{key}")


def test_keras_order_is_model_layers(resnet50):
    # The oracle: Keras' own model.layers, under Keras 3 names from the one naming table.
    model, graph, _, _ = resnet50
    keras3 = names_in(graph, "keras3")
    ours = [keras3[name] for name in keras_order(graph) if keras3[name]]
    theirs = [layer.name for layer in model.layers if layer.name in set(ours)]
    assert ours == theirs


def test_native_weights_h5_both_ways(resnet50, tmp_path):
    model, graph, weights, x = resnet50
    ours_file = tmp_path / "ours.weights.h5"
    save_weights(weights, ours_file, graph)
    model.load_weights(str(ours_file))  # Keras reads our file; a wrong order fails on shapes or below
    theirs = keras_output(model, x)
    mine = forward(graph, load_weights(ours_file, graph), x)
    error = relative_error(mine, theirs)
    print(f"parity .weights.h5: max abs {np.abs(mine - theirs).max():.3g}, max|ref| {np.abs(theirs).max():.3g}, "
          f"relative {error:.3g}")
    assert error <= TOLERANCE
    keras_file = tmp_path / "keras.weights.h5"
    model.save_weights(str(keras_file))  # and we read Keras' own file to the same arrays
    same_weights(load_weights(keras_file, graph), weights)


def test_keras3_named_h5_and_keras_archive(resnet50, tmp_path):
    model, graph, weights, x = resnet50
    save_weights(weights, tmp_path / "ours.weights.h5", graph)
    model.load_weights(str(tmp_path / "ours.weights.h5"))
    model.save(str(tmp_path / "legacy.h5"))  # Keras 3's legacy whole-model h5: layer_names like conv2_block1_1_conv
    with h5py.File(tmp_path / "legacy.h5") as f:
        assert "conv2_block1_1_conv" in [str(n) for n in f["model_weights"].attrs["layer_names"]]
    same_weights(load_weights(tmp_path / "legacy.h5", graph), weights)
    model.save(str(tmp_path / "model.keras"))
    same_weights(load_weights(tmp_path / "model.keras", graph), weights)


def test_plain_load_weights_reads_our_h5(resnet50, tmp_path):
    # issue 8: Keras 3 said "Weight count mismatch for layer #7" when layer_names were in execution order.
    model, graph, _, x = resnet50
    other = random_weights(graph, seed=9, dtype="float32")
    save_weights(other, tmp_path / "init.h5", graph)
    model.load_weights(str(tmp_path / "init.h5"))
    theirs = keras_output(model, x)
    mine = forward(graph, load_weights(tmp_path / "init.h5", graph), x)
    error = relative_error(mine, theirs)
    print(f"parity legacy .h5: max abs {np.abs(mine - theirs).max():.3g}, max|ref| {np.abs(theirs).max():.3g}, "
          f"relative {error:.3g}")
    assert error <= TOLERANCE
