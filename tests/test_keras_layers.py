"""Keras 3 as Keras shows it (issue 18): every layer's name, output shape, "Connected to" and params.

The oracle is Keras itself: ``keras.applications.ResNet50(weights=None)``, ``ResNet50V2``,
``ResNet101V2`` and ``ResNet152V2``, live (skipped when Keras is not importable) and through the
golden files it wrote (``scripts/make_golden_keras_layers.py``, in a fresh session each) at
224×224 and 197×263. Our side is the trace under ``--names keras3`` (``tests/keras_layers.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from keras_layers import APPLICATIONS, differences, keras_rows, our_rows
from resnet_inspect import build_graph
from resnet_inspect.model.keras import keras_order
from resnet_inspect.model.naming import names_in

LAYERS = Path(__file__).parent / "golden" / "keras" / "layers"
SIZES = ((224, 224), (197, 263))
CASES = [(model, hw) for model in APPLICATIONS for hw in SIZES]


def golden(model: str, hw: tuple[int, int]) -> dict:
    return json.loads((LAYERS / f"{model}-{hw[0]}x{hw[1]}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("model", "hw"), CASES, ids=[f"{m}-{h}x{w}" for m, (h, w) in CASES])
def test_every_layer_as_keras_wrote_it(model, hw):
    theirs = golden(model, hw)
    ours = our_rows(APPLICATIONS[model], hw)
    assert differences(ours, theirs["layers"]) == []
    assert len(ours) == len(theirs["layers"]) > 170  # every Keras layer, and no layer Keras lacks
    assert sum(row[3] for row in ours) == theirs["count_params"]


@pytest.mark.parametrize("model", list(APPLICATIONS))
def test_layer_order_is_model_layers(model):
    graph = build_graph(APPLICATIONS[model])
    keras3 = names_in(graph, "keras3")
    ours = [keras3[name] for name in keras_order(graph) if keras3[name]]
    assert ours == [row[0] for row in golden(model, (224, 224))["layers"]]


def test_the_head_keras_shows():
    # Keras' summary of ResNet50V2 (the golden file): GlobalAveragePooling2D avg_pool is [2048]
    # and predictions reads it; no Flatten between them.
    rows = {row[0]: row for row in our_rows("resnet50v2", (224, 224))}
    assert rows["avg_pool"] == ["avg_pool", [2048], ["post_relu"], 0]
    assert rows["predictions"] == ["predictions", [1000], ["avg_pool"], 2048 * 1000 + 1000]
    assert "flatten" not in rows


def test_counter_names_and_add_order():
    # model.summary() of fresh-session Keras models: input_layer; V2's stride-2 shortcut pools
    # max_pooling2d, _1, _2 (stages 2-4); conv2_block1_add is Connected to [0_bn, 3_bn] (shortcut first).
    v1 = {row[0]: row for row in our_rows("resnet50-keras3", (224, 224))}
    assert v1["input_layer"][1] == [224, 224, 3]
    assert v1["conv2_block1_add"][2] == ["conv2_block1_0_bn", "conv2_block1_3_bn"]
    v2 = [row for row in our_rows("resnet50v2", (224, 224)) if row[0].startswith("max_pooling2d")]
    assert [(row[0], row[2]) for row in v2] == [("max_pooling2d", ["conv2_block2_out"]),
                                                ("max_pooling2d_1", ["conv3_block3_out"]),
                                                ("max_pooling2d_2", ["conv4_block5_out"])]


def test_the_blog_keeps_its_head():
    # the blog's code: AveragePooling2D((7, 7)) then Flatten; add([x, shortcut]): main path first
    from resnet_inspect import trace

    result = trace("resnet50")
    assert result.layer("avg_pool").output_shape == (1, 1, 2048)
    assert result.layer("flatten").output_shape == (2048,)
    assert result.layer("res2a").inputs == ("bn2a_branch2c", "bn2a_branch1")


# --------------------------------------------------------------------------- the live framework


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"KERAS_BACKEND is {keras.backend.backend()}; these tests run Keras on torch")
    return keras


LIVE = [("ResNet50", (197, 263)), ("ResNet50V2", (197, 263)), ("ResNet50V2", (32, 32)), ("ResNet152V2", (224, 224))]


@pytest.mark.keras
@pytest.mark.parametrize(("model", "hw"), LIVE, ids=[f"{m}-{h}x{w}" for m, (h, w) in LIVE])
def test_live_keras_shows_what_we_trace(keras, model, hw):
    keras.backend.clear_session()  # a fresh session: input_layer, max_pooling2d, _1, _2
    built = getattr(keras.applications, model)(weights=None, input_shape=(*hw, 3))
    theirs = keras_rows(built)
    ours = our_rows(APPLICATIONS[model], hw)
    print(f"{model} at {hw[0]}x{hw[1]}: {len(theirs)} layers compared")
    assert differences(ours, theirs) == []
    assert len(ours) == len(theirs)
    assert sum(row[3] for row in ours) == built.count_params()
