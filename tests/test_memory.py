"""Memory: the inference peak against a hand count and the executor's own measurement; torchinfo's
convention against torchinfo (the numbers it prints for torchvision's resnet50, and live)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from resnet_inspect import InspectError, load_graph, trace, trace_graph
from resnet_inspect.cli import app
from resnet_inspect.execute.executor import Executor
from resnet_inspect.analysis.memory import memory_profile
from resnet_inspect.model.weights import random_weights

TINY = str(Path(__file__).resolve().parent / "data" / "tiny-run.yaml")


def test_inference_peak_by_hand():
    # resnet50 at 224, batch 1, float32. At res2a_branch1 (the shortcut conv, computed after the
    # main branch) three maps are held: pool1's output, kept for the shortcut, 56·56·64·4 bytes;
    # bn2a_branch2c (in place over res2a_branch2c's buffer), 56·56·256·4; and res2a_branch1's
    # own output, 56·56·256·4. Everything before is smaller (conv1 + pool1_pad: 3,211,264 + 3,326,976).
    profile = memory_profile(trace("resnet50", 224))
    assert profile.peak_layer == "res2a_branch1"
    assert profile.peak_activation_bytes == 56 * 56 * 64 * 4 + 2 * 56 * 56 * 256 * 4 == 7_225_344
    by_name = {layer.name: layer for layer in profile.layers}
    assert by_name["conv1"].output_bytes == 112 * 112 * 64 * 4
    # conv1_pad (230·230·3·4) is still held while conv1 writes its output
    assert by_name["conv1"].live_bytes == 230 * 230 * 3 * 4 + 112 * 112 * 64 * 4
    # the ReLU after bn_conv1 overwrites it: nothing new
    assert by_name["conv1_relu"].live_bytes == 112 * 112 * 64 * 4
    # parameters: Keras' 25,636,712 (trainable + BN moving statistics) × 4 bytes
    assert profile.param_bytes == 25_636_712 * 4


def test_batch_and_dtype_scale_the_bytes():
    base = memory_profile(trace("resnet50", 224))
    assert memory_profile(trace("resnet50", 224), batch=4).peak_activation_bytes == 4 * base.peak_activation_bytes
    half = memory_profile(trace("resnet50", 224), dtype="bfloat16")
    assert half.peak_activation_bytes * 2 == base.peak_activation_bytes and half.param_bytes * 2 == base.param_bytes
    assert memory_profile(trace("resnet50", 224), dtype="int8").param_bytes * 4 == base.param_bytes


@pytest.mark.parametrize("spec, size, batch", [(TINY, (32, 32), 3), ("resnet50-torchvision", (224, 224), 1),
                                               ("resnet50", (193, 257), 2), ("resnet50v2", (224, 224), 1)])
def test_prediction_agrees_with_the_executors_measured_peak(spec, size, batch):
    # The oracle: the executor counts the bytes of the distinct activation arrays it holds after
    # every layer of a real forward pass (fused convs, in-place BN/ReLU/add, views shared).
    graph = load_graph(spec)
    executor = Executor(graph, random_weights(graph, 0))
    x = np.random.default_rng(0).standard_normal((batch, *size, 3)).astype(np.float32)
    executor(x)
    predicted = memory_profile(trace_graph(graph, size), batch).peak_activation_bytes
    assert abs(executor.peak_live_bytes - predicted) <= 0.10 * predicted
    assert executor.peak_live_bytes == predicted  # in fact exactly: the replay follows the executor's schedule


def test_torchinfo_convention_reproduces_what_torchinfo_prints():
    # torchinfo 1.8, summary(torchvision.models.resnet50(), (1, 3, 224, 224)):
    # "Forward/backward pass size (MB): 177.83", "Params size (MB): 102.23", "Input size (MB): 0.60".
    profile = memory_profile(trace("resnet50-torchvision", 224), convention="torchinfo")
    assert f"{profile.peak_activation_bytes / 1e6:.2f}" == "177.83"
    assert f"{profile.param_bytes / 1e6:.2f}" == "102.23"
    assert f"{profile.input_bytes / 1e6:.2f}" == "0.60"
    assert profile.param_bytes == 25_557_032 * 4  # torchvision's parameter count, BN buffers left out


@pytest.mark.torch
@pytest.mark.parametrize("spec, layout_name, batch", [("resnet50-torchvision", "TORCHVISION", 2), ("resnet50", "KERAS", 1)])
def test_torchinfo_convention_live(spec, layout_name, batch):
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import torch_resnet

    model = torch_resnet.ResNet([3, 4, 6, 3], getattr(torch_resnet, layout_name)).eval()
    with torch.no_grad():
        stats = torchinfo.summary(model, input_size=(batch, 3, 224, 224), verbose=0)
    ours = memory_profile(trace(spec, 224), batch=batch, convention="torchinfo")
    assert ours.peak_activation_bytes == stats.total_output_bytes
    assert ours.param_bytes == stats.total_param_bytes
    # torchinfo's input size is sys.getsizeof of the tensor's storage: the bytes plus a small
    # Python object header (64 bytes here), invisible at two decimals of MB.
    assert 0 <= stats.total_input - ours.input_bytes <= 100


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(InspectError, match="^dtype: dtype must be one of"):
        memory_profile(trace("resnet50"), dtype="float8")
    with pytest.raises(InspectError, match="^convention: "):
        memory_profile(trace("resnet50"), convention="keras")
    result = CliRunner().invoke(app, ["memory", "resnet50", "--dtype", "float8"])
    assert result.exit_code == 2


def test_memory_command_json_contract():
    result = CliRunner().invoke(app, ["memory", "resnet50", "--batch", "2", "--dtype", "float16", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {"spec", "input", "batch", "dtype", "peak_activation_bytes", "peak_layer", "param_bytes",
            "layers"} <= set(data)
    assert data["batch"] == 2 and data["dtype"] == "float16" and data["convention"] == "inference"
    assert data["peak_activation_bytes"] == 2 * (7_225_344 // 2)  # batch 2 × half the float32 bytes
    assert set(data["layers"][0]) == {"name", "output_bytes", "live_bytes"}
    table = CliRunner().invoke(app, ["memory", "resnet50-torchvision", "--convention", "torchinfo"])
    assert "177.83 MB" in table.stdout and "102.23 MB" in table.stdout


def test_memory_columns_in_trace():
    runner = CliRunner()
    csv = runner.invoke(app, ["trace", "resnet50", "--columns", "output_bytes,live_bytes", "--format", "csv"])
    assert csv.exit_code == 0
    lines = dict(line.split(",", 1) for line in csv.stdout.splitlines()[1:])
    # hand count, as in test_inference_peak_by_hand
    assert lines["res2a_branch1"] == f"{56 * 56 * 256 * 4},{7_225_344}"
    stage = runner.invoke(app, ["trace", "resnet50", "-c", "live_bytes", "--depth", "stage", "-f", "json"])
    groups = {g["name"]: g for g in json.loads(stage.stdout)["groups"]}
    assert groups["stage2"]["live_bytes"] == 7_225_344  # the peak lies in stage 2
