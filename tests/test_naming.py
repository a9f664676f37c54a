"""The one name table: every layer under the blog's, Caffe's, Keras 3's and torchvision's names.

Sources: the issue's equalities (res3a_branch2a = conv3_block1_1_conv = layer2.0.conv1; bn_conv1
= conv1_bn = bn1; res3a_branch1 = conv3_block1_0_conv = layer2.0.downsample.0); Keras 3's
keras/src/applications/resnet.py (name + "_1_conv", "_0_bn", "_add", "_out", "_preact_bn",
"post_bn", "avg_pool", "predictions"); torchvision's models/resnet.py (layerN.i.conv1/bn1/...,
downsample.0/1, one reused ``relu`` module, ``maxpool``, ``avgpool``, ``fc``); Kaiming He's Caffe
deploy prototxt (``scale…`` after every ``bn…``, ``pool5``, ``prob``). The live test compares the
keras3 column with the layer names Keras itself builds.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from resnet_inspect import trace
from resnet_inspect.cli import app
from resnet_inspect.core.errors import InspectError
from resnet_inspect.model.graph import load_graph
from resnet_inspect.model.naming import MISSING, name_table, names_in
from resnet_inspect.model.weights import keras3_names, torchvision_names

runner = CliRunner()


def row(spec, name):
    return next(r for r in name_table(load_graph(spec)) if r.name == name)


@pytest.mark.parametrize("blog, keras3, torchvision", [
    ("res3a_branch2a", "conv3_block1_1_conv", "layer2.0.conv1"),
    ("bn_conv1", "conv1_bn", "bn1"),
    ("res3a_branch1", "conv3_block1_0_conv", "layer2.0.downsample.0"),
    ("bn3a_branch1", "conv3_block1_0_bn", "layer2.0.downsample.1"),
    ("res4f_branch2c", "conv4_block6_3_conv", "layer3.5.conv3"),
    ("conv1", "conv1_conv", "conv1"),
    ("pool1", "pool1_pool", "maxpool"),
    ("avg_pool", "avg_pool", "avgpool"),
    ("fc1000", "predictions", "fc"),
])
def test_the_issue_equalities(blog, keras3, torchvision):
    r = row("resnet50", blog)
    assert (r.blog, r.keras3, r.torchvision) == (blog, keras3, torchvision)


def test_caffe_shows_scale_as_part_of_bn_and_its_own_head_names():
    assert row("resnet50", "bn2a_branch2a").caffe == "bn2a_branch2a + scale2a_branch2a"
    assert row("resnet50", "bn_conv1").caffe == "bn_conv1 + scale_conv1"
    assert (row("resnet50", "avg_pool").caffe, row("resnet50", "fc1000_softmax").caffe) == ("pool5", "prob")
    assert row("resnet50", "conv1_pad").caffe is None  # Caffe pads inside conv1


def test_no_invented_names_where_a_framework_has_no_layer():
    # torchvision reuses one nn.ReLU and pads inside Conv2d/MaxPool2d; Keras' Dense carries the softmax.
    assert row("resnet50", "res2a_branch2a_relu").torchvision is None
    assert row("resnet50", "conv1_relu").torchvision is None
    assert row("resnet50", "pool1_pad").torchvision is None
    assert row("resnet50", "fc1000_softmax").keras3 is None


def test_keras_counter_names_as_a_fresh_session_gives_them():
    # Keras names a layer made without name= by a per-class counter: keras.Input() is input_layer,
    # V2's MaxPooling2D(1, strides=2) shortcuts max_pooling2d, _1, _2 (model.summary() of
    # keras.applications.ResNet50V2 in a fresh session; tests/golden/keras/layers/ holds it).
    assert row("resnet50-keras3", "input").keras3 == "input_layer"
    assert [row("resnet50v2", f"res{n}_branch1_pool").keras3 for n in ("2c", "3d", "4f")] == [
        "max_pooling2d", "max_pooling2d_1", "max_pooling2d_2"]


def test_keras_ends_a_v1_block_at_the_relu_and_a_v2_block_at_the_add():
    assert (row("resnet50", "res2a").keras3, row("resnet50", "res2a_relu").keras3) == ("conv2_block1_add",
                                                                                      "conv2_block1_out")
    assert row("resnet50v2", "res2a").keras3 == "conv2_block1_out"
    assert row("resnet50v2", "bn2a_preact").keras3 == "conv2_block1_preact_bn"
    assert row("resnet50v2", "bn_post").keras3 == "post_bn"


def test_numbered_blocks_count_like_each_framework():
    # Caffe's res4b22 is the 23rd block of stage 4: Keras conv4_block23, torchvision layer3.22.
    r = row("resnet101", "res4b22_branch2a")
    assert (r.keras3, r.torchvision) == ("conv4_block23_1_conv", "layer3.22.conv1")


@pytest.mark.parametrize("spec", ["resnet50", "resnet152", "resnet50v2", "resnext50_32x4d", "resnet18"])
def test_names_are_unique_in_each_scheme(spec):
    for scheme in ("blog", "caffe", "keras3", "torchvision"):
        named = [n for n in names_in(load_graph(spec), scheme).values() if n is not None]
        assert len(named) == len(set(named)), scheme


def test_weight_loaders_read_the_same_table():
    graph = load_graph("resnet50-torchvision")
    assert torchvision_names(graph)["res2a_branch1"] == "layer1.0.downsample.0"
    assert keras3_names(graph)["bn2a_branch2a"] == "conv2_block1_1_bn"
    # weighted layers only: 53 conv + 53 BN + fc (torchvision's 161 named parameter-owning modules
    # of resnet50 would be 53 + 53 + 1 = 107)
    assert len(torchvision_names(graph)) == len(keras3_names(graph)) == 107


def test_names_command_table_and_json():
    result = runner.invoke(app, ["names", "resnet50", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["schemes"] == ["blog", "caffe", "keras3", "torchvision"]
    first_conv = next(r for r in data["layers"] if r["name"] == "res3a_branch2a")
    assert first_conv == {"name": "res3a_branch2a", "op": "conv", "blog": "res3a_branch2a",
                          "caffe": "res3a_branch2a", "keras3": "conv3_block1_1_conv", "torchvision": "layer2.0.conv1"}
    table = runner.invoke(app, ["names", "resnet50"])
    assert table.exit_code == 0 and "layer2.0.downsample.0" in table.stdout


def test_trace_names_json_renames_layers_and_inputs():
    result = runner.invoke(app, ["trace", "resnet50", "--names", "keras3", "--format", "json"])
    assert result.exit_code == 0
    layers = json.loads(result.stdout)["layers"]
    blog = trace("resnet50").layers
    assert len(layers) == len(blog)
    by_name = {layer["name"]: layer for layer in layers}
    assert by_name["conv3_block1_1_conv"]["output_shape"] == [28, 28, 128]
    assert by_name["conv3_block1_add"]["inputs"] == ["conv3_block1_3_bn", "conv3_block1_0_bn"]
    assert layers[0]["name"] == "input_layer" and layers[0]["blog_name"] == "input"  # keras.Input(), fresh session
    assert layers[-1]["name"] is None  # fc1000_softmax: Keras folds it into the Dense layer


def test_verify_and_diff_take_names():
    result = runner.invoke(app, ["verify", "resnet18-torchvision", "--input", "64", "--names", "torchvision",
                                 "--format", "json"])
    assert result.exit_code == 0
    names = [layer["name"] for layer in json.loads(result.stdout)["layers"]]
    assert "layer1.1.conv2" in names and "layer4.0.downsample.1" in names
    diff = runner.invoke(app, ["diff", "resnet50", "resnet50-torchvision", "--names", "torchvision", "-f", "json"])
    assert diff.exit_code == 1 and "layer1.0.conv1" in diff.stdout


def test_unknown_scheme_is_an_inspect_error():
    with pytest.raises(InspectError, match="^names: names must be one of blog, caffe, keras3, torchvision"):
        names_in(load_graph("resnet50"), "onnx")


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("spec, builder, hw", [("resnet50-keras3", "ResNet50", (224, 224)),
                                               ("resnet50v2", "ResNet50V2", (224, 224)),
                                               ("resnet50v2", "ResNet50V2", (160, 288)),
                                               ("resnet50-keras3", "ResNet50", (200, 136))])
def test_keras3_column_is_what_keras_builds(spec, builder, hw):
    """Every keras3 name exists in the real model with the same output shape and parameter count;
    every Keras layer is one of ours, the input and V2's max pools by the names of a fresh session."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    keras.backend.clear_session()  # counter names (input_layer, max_pooling2d_N) as a new session gives them
    model = getattr(keras.applications, builder)(weights=None, input_shape=(*hw, 3))
    theirs = {layer.name: layer for layer in model.layers}
    ours = trace(spec, input=hw)
    mapped = {k: blog for blog, k in names_in(load_graph(spec), "keras3").items() if k is not None}
    for keras_name, blog in mapped.items():
        layer = theirs[keras_name]
        assert tuple(layer.output.shape[1:]) == ours.layer(blog).output_shape, keras_name
        assert layer.count_params() == ours.layer(blog).params, keras_name
    assert set(theirs) == set(mapped)


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("spec, builder", [("resnet50v2", "ResNet50V2"), ("resnet50-keras3", "ResNet50")])
def test_executor_matches_keras_forward(spec, builder):
    """The same seeded weights put into Keras by the keras3 names: outputs agree to 1e-4 of the
    largest (the issue's float32 bound). 64×96 is valid for the global pool and keeps it quick."""
    import os

    import numpy as np

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    from resnet_inspect.execute.executor import forward
    from resnet_inspect.model.weights import random_weights

    graph = load_graph(spec)
    weights = random_weights(graph, seed=3)
    # Logits on both sides (a softmax of random weights saturates and would hide errors).
    model = getattr(keras.applications, builder)(weights=None, input_shape=(64, 96, 3), classifier_activation=None)
    order = {"conv": ("kernel", "bias"), "dense": ("kernel", "bias"),
             "batch_norm": ("gamma", "beta", "moving_mean", "moving_variance")}
    kinds = {layer.name: layer.op.kind for layer in graph}
    for blog, keras_name in keras3_names(graph).items():
        arrays = weights[blog]
        model.get_layer(keras_name).set_weights([arrays[k] for k in order[kinds[blog]] if k in arrays])
    x = np.random.default_rng(4).normal(size=(2, 64, 96, 3)).astype("float32")
    theirs = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    logits = {}
    forward(graph, weights, x, on_layer=lambda name, a: logits.update({name: a.copy()}) if name == "predictions" else None)
    ours = logits["predictions"].astype(np.float64)
    assert ours.shape == theirs.shape == (2, 1000)
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()


@pytest.mark.parametrize("scheme, blocks, stages", [
    # Keras 3 resnet.py: stack_residual_blocks_v1(x, 256, 23, name="conv4") names blocks
    # conv4_block1 … conv4_block23; torchvision resnet.py: layer3 = Sequential of 23 Bottlenecks, 0 … 22.
    ("keras3", ["conv2_block1", "conv4_block23", "conv5_block3"], ["conv2", "conv3", "conv4", "conv5"]),
    ("torchvision", ["layer1.0", "layer3.22", "layer4.2"], ["layer1", "layer2", "layer3", "layer4"]),
    ("caffe", ["res2a", "res4b22", "res5c"], ["stage2", "stage3", "stage4", "stage5"]),  # Caffe's ResNet-101 numbers 4b1…4b22
])
def test_block_and_stage_rows_take_names(scheme, blocks, stages):
    by_block = json.loads(runner.invoke(app, ["trace", "resnet101", "--depth", "block", "--names", scheme,
                                              "-f", "json"]).stdout)["groups"]
    names = [group["name"] for group in by_block]
    assert names[0] == "stem" and names[-1] == "head" and len(names) == 2 + 3 + 4 + 23 + 3
    assert set(blocks) <= set(names)
    # the first block of each stage is still a conv block: kinds are read off our own layers
    assert [group["kind"] for group in by_block[1:3]] == ["conv_block", "identity_block"]
    by_stage = json.loads(runner.invoke(app, ["trace", "resnet101", "--depth", "stage", "--names", scheme,
                                              "-f", "json"]).stdout)["groups"]
    assert [group["name"] for group in by_stage] == ["stem", *stages, "head"]


def test_trace_names_do_not_change_any_number():
    """Renaming is display only: torchvision has no name for 70 of ResNet-50's 179 layers (its shared
    ``relu``, its adds, padding inside convs), and before this test those all became one key "—", so the
    receptive field and memory columns, which follow the graph by name, came out wrong (the input
    layer's receptive field was 675×675 instead of 1×1, by hand: a pixel sees itself)."""
    args = ["trace", "resnet50", "-c", "rf,output_bytes,live_bytes", "--format", "json"]
    ours = json.loads(runner.invoke(app, args).stdout)["layers"]
    renamed = runner.invoke(app, [*args, "--names", "torchvision"])
    assert renamed.exit_code == 0
    theirs = json.loads(renamed.stdout)["layers"]
    assert ours[0]["receptive_field"]["size"] == [1, 1]
    for a, b in zip(ours, theirs, strict=True):
        assert b["blog_name"] == a["name"] and b["blog_inputs"] == a["inputs"]
        assert {k: v for k, v in a.items() if k not in ("name", "inputs")} == \
            {k: v for k, v in b.items() if k not in ("name", "inputs", "blog_name", "blog_inputs")}


def test_trace_names_json_null_where_a_framework_has_no_layer():
    """torchvision.models.resnet50 has no module for the stem's ReLU (it reuses ``self.relu``) nor
    for the padding (inside ``conv1``): JSON says null there, never a made-up or display name."""
    layers = json.loads(runner.invoke(app, ["trace", "resnet50", "--names", "torchvision", "-f", "json"]).stdout)["layers"]
    by_blog = {layer["blog_name"]: layer for layer in layers}
    assert by_blog["conv1_relu"]["name"] is None and by_blog["conv1_pad"]["name"] is None
    assert by_blog["pool1"]["name"] == "maxpool" and by_blog["pool1"]["inputs"] == [None]  # its input is pool1_pad
    assert by_blog["bn_conv1"]["name"] == "bn1" and by_blog["bn_conv1"]["inputs"] == ["conv1"]
    table = runner.invoke(app, ["trace", "resnet50", "--names", "torchvision"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and MISSING in table.stdout and "layer1.0.downsample.0" in table.stdout


def test_default_trace_json_has_no_blog_fields():
    layers = json.loads(runner.invoke(app, ["trace", "resnet18", "-f", "json"]).stdout)["layers"]
    assert "blog_name" not in layers[0] and "blog_inputs" not in layers[0]


def test_verify_and_diff_json_null_where_a_framework_has_no_layer():
    """Same contract as trace: null, never "—", and our own name beside it."""
    checked = json.loads(runner.invoke(app, ["verify", "resnet18-torchvision", "--input", "64", "--names",
                                             "torchvision", "-f", "json"]).stdout)["layers"]
    by_blog = {layer["blog_name"]: layer for layer in checked}
    assert by_blog["conv1_relu"]["name"] is None and by_blog["res2a_branch2a"]["name"] == "layer1.0.conv1"
    diff = json.loads(runner.invoke(app, ["diff", "resnet50", "resnet50-torchvision", "--names", "torchvision",
                                          "-f", "json"]).stdout)
    softmax = next(d for d in diff["layers"] if d["blog_a"] == "fc1000_softmax")
    assert softmax["status"] == "removed" and softmax["a"] is None and softmax["b"] is None
    bn = next(d for d in diff["layers"] if d["blog_a"] == "bn_conv1")
    assert (bn["a"], bn["b"]) == ("bn1", "bn1")
    # stride on the 1×1 in the blog's layout, on the 3×3 in torchvision's (torchvision's Bottleneck)
    assert diff["stride_moves"][0]["from_layer"] == "layer2.0.conv1"
    assert diff["stride_moves"][0]["to_layer"] == "layer2.0.conv2"


def test_verify_failure_line_names_both():
    """A mismatch under --names says the framework's name and ours where they differ."""
    from resnet_inspect.execute.verify import rename_verify
    from resnet_inspect.execute.verify import LayerCheck, VerifyResult

    checks = (LayerCheck("res2a_branch2a", "conv", "stage2", (56, 56, 64), (55, 55, 64), 0.0),
              LayerCheck("res2a_branch2a_relu", "relu", "stage2", (56, 56, 64), (55, 55, 64), 0.0))
    result = rename_verify(VerifyResult("resnet18", (224, 224, 3), 1, 0, "float32", checks, 0.0),
                           load_graph("resnet18"), "torchvision")
    assert result.failure() == ("layer layer1.0.conv1 (res2a_branch2a): predicted 56×56×64, actual 55×55×64 "
                                "(1 more layers differ)")
    assert result.to_dict()["mismatches"] == ["layer1.0.conv1", None]
