"""Our Keras readers and forward pass against files and outputs Keras 3 itself wrote (no Keras needed).

``scripts/make_golden_keras.py`` built each tiny network in ``tests/golden/keras/`` with Keras'
own ``keras.applications`` code (``resnet.ResNet`` + ``stack_residual_blocks_v1``/``_v2``), and
Keras wrote the ``.weights.h5``, ``.keras`` and legacy ``.h5`` files, its forward pass on a seeded
input and its ``model.layers`` order. Bound (issue 8): max|ours − Keras| ≤ 1e-4 × max|Keras| in
float32. The live counterpart, on the full ResNet50, is ``test_keras_parity.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_inspect import build_graph, load_spec
from resnet_inspect.execute.executor import forward
from resnet_inspect.model.keras import keras_order
from resnet_inspect.model.naming import names_in
from resnet_inspect.io.weightfiles import load_weights

pytest.importorskip("h5py")
GOLDEN = Path(__file__).parent / "golden" / "keras"
SPECS = ("tiny-keras3", "tiny-keras3v2")
FORMATS = (".weights.h5", ".keras", ".h5")
TOLERANCE = 1e-4


def golden(name: str):
    graph = build_graph(load_spec(str(GOLDEN / f"{name}.yaml")))
    with np.load(GOLDEN / f"{name}.npz") as data:
        return graph, {key: data[key] for key in data.files}


@pytest.mark.parametrize("name", SPECS)
def test_keras_order_is_keras_model_layers(name):
    graph, data = golden(name)
    keras3 = names_in(graph, "keras3")
    ours = [keras3[layer] for layer in keras_order(graph) if keras3[layer]]
    theirs = [layer for layer in data["layers"].tolist() if layer in set(ours)]
    assert ours == theirs and len(ours) > 40


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("name", SPECS)
def test_forward_matches_keras_on_keras_files(name, suffix):
    graph, data = golden(name)
    weights = load_weights(GOLDEN / f"{name}{suffix}", graph)
    ours = forward(graph, weights, data["input"])
    theirs = data["output"]
    error = float(np.abs(ours.astype(np.float64) - theirs).max() / np.abs(theirs).max())
    assert ours.shape == theirs.shape == (2, 10)
    assert error <= TOLERANCE, f"{name}{suffix}: relative error {error:.3g}"


def test_the_three_files_hold_the_same_weights():
    graph, _ = golden("tiny-keras3")
    files = [load_weights(GOLDEN / f"tiny-keras3{suffix}", graph) for suffix in FORMATS]
    for other in files[1:]:
        for layer, keys in files[0].items():
            for key, array in keys.items():
                np.testing.assert_array_equal(array, other[layer][key])


def test_blog_layout_puts_the_main_path_first_at_a_tie():
    # keras_applications/resnet50.py (the blog's Keras 2 code) writes layers.add([x, shortcut]): the walk
    # from the output reaches res2a_branch2c before res2a_branch1, both at the same depth (hand-traced).
    graph = build_graph(load_spec("resnet50"))
    blog, keras3 = keras_order(graph, layout="blog"), keras_order(graph, layout="keras3")
    assert blog.index("res2a_branch2c") < blog.index("res2a_branch1")
    assert keras3.index("res2a_branch1") < keras3.index("res2a_branch2c")
    assert sorted(blog) == sorted(keras3) == sorted(layer.name for layer in graph)


@pytest.mark.parametrize("spec", ["resnet18", "resnext50_32x4d", "resnet152v2"])
def test_keras_order_lists_every_layer_after_its_inputs(spec):
    graph = build_graph(load_spec(spec))
    order = keras_order(graph)
    position = {name: index for index, name in enumerate(order)}
    assert len(order) == len(graph)
    assert all(position[source] < position[layer.name] for layer in graph for source in layer.inputs)
