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
from resnet_inspect.execute.executor import forward  # noqa: E402
from resnet_inspect.model.keras import keras_order  # noqa: E402
from resnet_inspect.model.naming import names_in  # noqa: E402
from resnet_inspect.io.base import WeightsError  # noqa: E402
from resnet_inspect.io.weightfiles import load_weights, save_weights  # noqa: E402
from resnet_inspect.model.weights import random_weights, weight_shapes  # noqa: E402

pytestmark = pytest.mark.keras
HW = (64, 64)  # valid for the global pool (stage 5 is 2×2) and keeps both forward passes fast
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def resnet50():
    if keras.backend.backend() != "torch":
        pytest.skip(f"KERAS_BACKEND is {keras.backend.backend()}; these tests run Keras on torch")
    keras.backend.clear_session()  # a fresh session's counter names (input_layer, not input_layer_5)
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


def test_errors_name_arrays_as_keras_does(resnet50):
    # --names keras3: every array of ours is named as Keras 3 names the variable (its .path), so a
    # "missing" list reads like the model it came from. The oracle: the live model's own weights.
    from resnet_inspect.model.naming import shown

    model, graph, _, _ = resnet50
    named = shown(graph, "keras3")
    ours = {named.array(layer, key) for layer, keys in weight_shapes(graph).items() for key in keys}
    assert ours == {variable.path for variable in model.weights}


# --------------------------------------------------------------------------- the blog's Keras code


def blog_resnet50(input_shape: tuple[int, int, int]):
    """The blog's code, keras_applications/resnet50.py as of 2019 (no pool1 padding), in Keras 3.

    Transcribed from the walk-through (../shared/seed-blog-resnet50.txt) and keras_applications:
    the residual add is ``layers.add([x, shortcut])`` (main path first) and the ReLUs are unnamed.
    """
    layers = keras.layers

    def block(x, filters, stage, name, strides=None):
        f1, f2, f3 = filters
        conv, bn = f"res{stage}{name}_branch", f"bn{stage}{name}_branch"
        y = layers.Conv2D(f1, 1, strides=strides or 1, name=conv + "2a")(x)
        y = layers.Activation("relu")(layers.BatchNormalization(name=bn + "2a")(y))
        y = layers.Conv2D(f2, 3, padding="same", name=conv + "2b")(y)
        y = layers.Activation("relu")(layers.BatchNormalization(name=bn + "2b")(y))
        y = layers.BatchNormalization(name=bn + "2c")(layers.Conv2D(f3, 1, name=conv + "2c")(y))
        if strides is not None:  # conv_block: a 1x1 conv (and BN) on the shortcut
            x = layers.BatchNormalization(name=bn + "1")(layers.Conv2D(f3, 1, strides=strides, name=conv + "1")(x))
        return layers.Activation("relu")(layers.add([y, x]))

    inputs = keras.Input(input_shape)
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(64, 7, strides=2, name="conv1")(x)
    x = layers.Activation("relu")(layers.BatchNormalization(name="bn_conv1")(x))
    x = layers.MaxPooling2D(3, strides=2)(x)
    for stage, filters, blocks, stride in ((2, (64, 64, 256), 3, 1), (3, (128, 128, 512), 4, 2),
                                           (4, (256, 256, 1024), 6, 2), (5, (512, 512, 2048), 3, 2)):
        x = block(x, filters, stage, "a", strides=stride)
        for index in range(1, blocks):
            x = block(x, filters, stage, "bcdef"[index - 1])
    x = layers.Flatten()(layers.AveragePooling2D(7, name="avg_pool")(x))
    return keras.Model(inputs, layers.Dense(1000, activation="softmax", name="fc1000")(x))


@pytest.fixture(scope="module")
def blog():
    if keras.backend.backend() != "torch":
        pytest.skip(f"KERAS_BACKEND is {keras.backend.backend()}; these tests run Keras on torch")
    graph = build_graph(load_spec("resnet50-2019"))  # conventions.keras_layout: blog
    model = blog_resnet50(graph.spec.input_shape)  # 224: the 7x7 avg_pool needs stage 5 at 7x7
    weights = random_weights(graph, seed=5, dtype="float32")
    x = np.random.default_rng(6).normal(size=(1, *graph.spec.input_shape)).astype("float32")
    return model, graph, weights, x


def test_blog_spec_orders_layers_as_the_blog_model_does(blog):
    model, graph, _, _ = blog
    weighted = {name for name in weight_shapes(graph)}
    theirs = [layer.name for layer in model.layers if layer.name in weighted]
    assert [name for name in keras_order(graph) if name in weighted] == theirs
    assert [name for name in keras_order(graph, "keras3") if name in weighted] != theirs


def test_blog_weights_h5_both_ways(blog, tmp_path):
    model, graph, weights, x = blog
    save_weights(weights, tmp_path / "ours.weights.h5", graph)  # the spec's layout: blog
    model.load_weights(str(tmp_path / "ours.weights.h5"))
    theirs = keras_output(model, x)
    mine = forward(graph, load_weights(tmp_path / "ours.weights.h5", graph), x)
    error = relative_error(mine, theirs)
    print(f"parity blog .weights.h5: max abs {np.abs(mine - theirs).max():.3g}, relative {error:.3g}")
    assert error <= TOLERANCE
    model.save_weights(str(tmp_path / "keras.weights.h5"))
    same_weights(load_weights(tmp_path / "keras.weights.h5", graph), weights)
    # In keras.applications' order the blog's file does not fit: res2a's tied 1x1x64x256 convs
    # would swap unseen, but from stage 3 on the shortcut conv takes twice the channels of 2c.
    with pytest.raises(WeightsError, match=r"shapes differ: res3a_branch2c/kernel .* expected \(1, 1, 128, 512\)"):
        load_weights(tmp_path / "keras.weights.h5", graph, keras_layout="keras3")


def test_blog_plain_h5_loads_by_position(blog, tmp_path):
    model, graph, _, x = blog
    other = random_weights(graph, seed=8, dtype="float32")
    save_weights(other, tmp_path / "init.h5", graph)
    model.load_weights(str(tmp_path / "init.h5"))  # no by_name: Keras matches weighted layers by position
    error = relative_error(forward(graph, other, x), keras_output(model, x))
    print(f"parity blog legacy .h5: relative {error:.3g}")
    assert error <= TOLERANCE
