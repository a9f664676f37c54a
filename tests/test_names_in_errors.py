"""`--names` on `run` and `weights`, and `--keras-layout` (issue 8).

`run` and `weights check|convert` name layers only in their errors; with `--names X` every
array there is named as framework X names it. Sources: torchvision's state-dict keys come from
torch itself (``model.state_dict()`` of the independent torch ResNet in scripts/torch_resnet.py,
built from torchvision's builder arguments, never from our graph); Keras 3's variable paths are
checked against a live model in tests/test_keras_parity.py; Caffe's from Kaiming He's
ResNet-50-deploy.prototxt, where ``bn2a_branch1`` (BatchNorm) holds the mean and variance and
``scale2a_branch1`` (Scale, bias_term: true) the scale and shift. The Keras layer order of each
layout is proven against live Keras in tests/test_keras_parity.py; here the CLI wiring.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.model.graph import load_graph
from resnet_inspect.model.naming import shown
from resnet_inspect.io.weightfiles import load_weights, save_weights
from resnet_inspect.model.weights import random_weights, weight_shapes

runner = CliRunner()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))


def arrays_under(spec: str, scheme: str) -> set[str]:
    graph = load_graph(spec)
    named = shown(graph, scheme)
    return {named.array(layer, key) for layer, keys in weight_shapes(graph).items() for key in keys}


def torch_state(layers: list[int]) -> dict[str, np.ndarray]:
    torch = pytest.importorskip("torch")
    import torch_resnet

    torch.manual_seed(0)
    model = torch_resnet.ResNet(layers, torch_resnet.TORCHVISION)
    return {k: v.numpy().copy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


@pytest.mark.torch
def test_torchvision_names_are_the_state_dict_keys():
    assert arrays_under("resnet50-torchvision", "torchvision") == set(torch_state([3, 4, 6, 3]))


def test_caffe_names_put_bn_statistics_and_scale_in_their_own_layers():
    named = shown(load_graph("resnet50"), "caffe")
    assert named.array("bn2a_branch1", "moving_mean") == "bn2a_branch1/moving_mean"
    assert named.array("bn2a_branch1", "gamma") == "scale2a_branch1/gamma"
    assert named.array("bn_conv1", "beta") == "scale_conv1/beta"
    assert named.array("res2a_branch1", "kernel") == "res2a_branch1/kernel"


def test_a_layer_the_framework_lacks_keeps_our_name_marked():
    # keras.applications' head has no Flatten (GlobalAveragePooling2D flattens), so torchvision's
    # flatten has no Keras 3 name; it is shown under ours, marked.
    named = shown(load_graph("resnet50-torchvision"), "keras3")
    assert named.layer("flatten") == "flatten (no keras3 layer)"
    assert shown(load_graph("resnet50-torchvision"), "blog").layer("flatten") == "flatten"
    # Keras' V2 max-pool shortcuts are named by its counter in a fresh session (issue 18): the
    # first is max_pooling2d, the next max_pooling2d_1 (as keras.applications.ResNet50V2 shows them).
    v2 = shown(load_graph("resnet50v2"), "keras3")
    assert (v2.layer("res2c_branch1_pool"), v2.layer("res3d_branch1_pool")) == ("max_pooling2d", "max_pooling2d_1")


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory) -> Path:
    """A torchvision state dict as safetensors, one tensor (layer1.0.bn1.running_mean) left out."""
    save_file = pytest.importorskip("safetensors.numpy").save_file
    state = torch_state([3, 4, 6, 3])
    del state["layer1.0.bn1.running_mean"]
    path = tmp_path_factory.mktemp("tv") / "tv.safetensors"
    save_file(state, str(path))
    return path


@pytest.mark.torch
@pytest.mark.parametrize("scheme, named", [
    ("torchvision", "1 missing: layer1.0.bn1.running_mean"),  # the file's own name: not repeated
    ("keras3", "1 missing: conv2_block1_1_bn/moving_mean (layer1.0.bn1.running_mean)"),
    ("caffe", "1 missing: bn2a_branch2a/moving_mean (layer1.0.bn1.running_mean)"),
    ("blog", "1 missing: bn2a_branch2a/moving_mean (layer1.0.bn1.running_mean)"),
])
def test_weights_check_names_the_missing_array_under_the_scheme(torchvision_file, scheme, named):
    result = runner.invoke(app, ["weights", "check", "resnet50-torchvision", str(torchvision_file), "--names", scheme])
    assert result.exit_code == 2
    assert named in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.torch
def test_json_error_names_the_layer_under_the_scheme(torchvision_file):
    result = runner.invoke(app, ["weights", "check", "resnet50-torchvision", str(torchvision_file),
                                 "--names", "keras3", "--format", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["layer"] == "conv2_block1_1_bn"


@pytest.fixture(scope="module")
def nan_file(tmp_path_factory) -> Path:
    graph = load_graph("resnet18-torchvision")
    weights = random_weights(graph, seed=1)
    weights["res3a_branch2a"]["kernel"][0, 0, 0, :2] = np.nan  # 2 NaN, counted by hand
    path = tmp_path_factory.mktemp("nan") / "nan.npz"
    save_weights(weights, path, graph)
    return path


@pytest.mark.parametrize("command", [
    ["weights", "check", "resnet18-torchvision", "{file}"],
    ["weights", "convert", "{file}", "-o", "{out}", "--spec", "resnet18-torchvision"],
    ["run", "resnet18-torchvision", "--weights", "{file}", "--array", "{array}"],
])
def test_nan_is_named_under_the_scheme_by_every_command(nan_file, tmp_path, command):
    # resnet18: res3a_branch2a is the first conv of layer2's first BasicBlock (torchvision layer2.0.conv1).
    array = tmp_path / "x.npy"
    np.save(array, np.zeros((1, 224, 224, 3), np.float32))
    args = [part.format(file=nan_file, out=tmp_path / "out.npz", array=array) for part in command]
    result = runner.invoke(app, [*args, "--names", "torchvision"])
    assert result.exit_code == 2
    assert ("layer layer2.0.conv1: weights hold values no network can use: "
            "1 not finite: layer2.0.conv1.weight has 2 NaN and 0 infinite") in result.output
    assert not (tmp_path / "out.npz").exists()


def test_run_names_the_dense_layer_an_input_size_does_not_fit(tmp_path):
    # resnet50: avg_pool 7x7 (stride 7) then flatten. At 448, stage 5 is 448/32 = 14x14, pooled to
    # 2x2x2048 = 8,192 inputs for fc1000, whose weights (made at 224: 1x1x2048) take 2,048.
    graph = load_graph("resnet50")
    save_weights(random_weights(graph, seed=0), tmp_path / "w.npz", graph)
    np.save(tmp_path / "x.npy", np.zeros((1, 448, 448, 3), np.float32))
    result = runner.invoke(app, ["run", "resnet50", "--weights", str(tmp_path / "w.npz"), "--array",
                                 str(tmp_path / "x.npy"), "--names", "keras3"])
    assert result.exit_code == 2
    assert ("layer predictions: takes 2,048 inputs in these weights, but at 448×448 its input "
            "(flatten (no keras3 layer)) gives 8,192") in result.output


# --------------------------------------------------------------------------- --keras-layout


def test_keras_layout_comes_from_the_spec_and_the_option_overrides_it(tmp_path):
    pytest.importorskip("h5py")
    graph = load_graph("resnet50-2019")  # conventions.keras_layout: blog
    assert graph.spec.conventions.keras_layout == "blog"
    assert load_graph("resnet50-keras3").spec.conventions.keras_layout == "keras3"
    spec_order, keras3 = tmp_path / "spec.weights.h5", tmp_path / "keras3.weights.h5"
    for path, extra in ((spec_order, []), (keras3, ["--keras-layout", "keras3"])):
        result = runner.invoke(app, ["weights", "init", "resnet50-2019", "-o", str(path), "--seed", "2", *extra])
        assert result.exit_code == 0, result.output
    seeded = random_weights(graph, seed=2)
    for path, layout in ((spec_order, None), (keras3, "keras3")):
        loaded = load_weights(path, graph, keras_layout=layout)
        np.testing.assert_array_equal(loaded["res3a_branch1"]["kernel"], seeded["res3a_branch1"]["kernel"])
    # each file read in the other order does not fit: stage 3's shortcut conv takes 256 channels, 2c 128
    for path, option in ((spec_order, "keras3"), (keras3, "blog")):
        result = runner.invoke(app, ["weights", "check", "resnet50-2019", str(path), "--keras-layout", option])
        assert result.exit_code == 2
        assert "shapes differ: res3a_branch2c/kernel" in result.output


def test_an_unknown_keras_layout_in_a_spec_is_one_line(tmp_path):
    text = (Path(__file__).resolve().parent.parent / "specs" / "resnet50.yaml").read_text()
    spec = tmp_path / "odd.yaml"
    spec.write_text(text.replace("keras_layout: blog", "keras_layout: keras2"))
    result = runner.invoke(app, ["trace", str(spec)])
    assert result.exit_code == 2
    assert "conventions.keras_layout" in result.output and len(result.output.strip().splitlines()) == 1
