"""`explain`: the arithmetic behind one layer, checked against hand calculations and the blog."""

import json

import pytest
from typer.testing import CliRunner

from resnet_inspect import InspectError, ShapeError, trace
from resnet_inspect.cli import app
from resnet_inspect.analysis.explain import explain


def steps(explanation):
    return {step.quantity: step for step in explanation.steps}


def test_res3a_branch2a_step_by_step():
    # Hand calculation (issue 10, the blog's stage-3 conv block): input 56×56×256 from res2c_relu;
    # 1×1 conv, stride 2, no padding: ⌊(56 + 0 − 1)/2⌋ + 1 = 28; params 1·1·256·128 + 128 = 32,896;
    # MACs 1·1·256·128·28·28 = 25,690,112.
    e = explain("resnet50", "res3a_branch2a", 224)
    assert e.inputs == (("res2c_relu", (56, 56, 256)),) and e.output_shape == (28, 28, 128)
    by = steps(e)
    assert by["output H and W"].arithmetic == "⌊(56 + 2·0 − 1)/2⌋ + 1 = 28"
    assert by["params"].arithmetic == "1·1·256·128 + 128 = 32,896" and by["params"].value == 32_896
    assert by["MACs"].arithmetic == "1·1·256·128·28·28 = 25,690,112"
    # every number explain states is the engine's own
    info = trace("resnet50", 224).layer("res3a_branch2a")
    assert (by["params"].value, by["MACs"].value, by["FLOPs"].value) == (info.params, info.macs, info.flops)


def test_pool1_in_the_2019_code_says_why_55_and_not_56():
    # The 2019 code has no ZeroPadding before MaxPooling2D((3, 3), strides=(2, 2)):
    # ⌊(112 − 3)/2⌋ + 1 = 55; the blog's text says 56 = ⌈112/2⌉, which needs 1 padding on each side.
    by = steps(explain("resnet50-2019", "pool1"))
    assert by["output H and W"].arithmetic == "⌊(112 + 2·0 − 3)/2⌋ + 1 = 55"
    why = by["why not 56"].arithmetic
    assert "⌈112/2⌉ = 56" in why and "padding 1" in why and "⌊(112 + 2·1 − 3)/2⌋ + 1 = 56" in why
    # the blog's spec pads first (pool1_pad), reaches 56, and has nothing to explain away
    blog = steps(explain("resnet50", "pool1"))
    assert blog["output H and W"].arithmetic == "⌊(114 + 2·0 − 3)/2⌋ + 1 = 56"
    assert not any(q.startswith("why not") for q in blog)


def test_every_layer_explains_itself_with_the_engines_numbers():
    # At a non-square input, every params/MACs/FLOPs step of one layer of each kind equals the trace.
    result = trace("resnet50-torchvision", "224x320")
    for name in ("conv1_pad", "conv1", "bn_conv1", "conv1_relu", "pool1", "res3a_branch2b", "res3a", "avg_pool",
                 "flatten", "fc1000"):
        info, by = result.layer(name), steps(explain("resnet50-torchvision", name, "224x320"))
        for quantity, expected in (("params", info.params), ("MACs", info.macs), ("FLOPs", info.flops)):
            if quantity in by:
                assert by[quantity].value == expected, (name, quantity)
    by = steps(explain("resnet50-torchvision", "conv1", "224x320"))
    assert by["output H"].arithmetic == "⌊(230 + 2·0 − 7)/2⌋ + 1 = 112"
    assert by["output W"].arithmetic == "⌊(326 + 2·0 − 7)/2⌋ + 1 = 160"


def test_unknown_layer_suggests_close_names():
    with pytest.raises(InspectError, match="did you mean res3a_branch2a"):
        explain("resnet50", "res3a_brnch2a")


def test_too_small_error_shows_the_chain_of_sizes():
    # Hand count at 192: pad 3 -> 198; conv 7×7/2 -> 96; pad 1 -> 98; pool 3×3/2 -> 48;
    # the 1×1/2 convs of res3a, res4a, res5a -> 24, 12, 6; avg_pool 7×7 needs 7.
    with pytest.raises(ShapeError) as info:
        trace("resnet50", 192)
    text = str(info.value)
    assert "\n" not in text
    assert text.endswith("sizes 192 → 198 (conv1_pad) → 96 (conv1) → 98 (pool1_pad) → 48 (pool1) → "
                         "24 (res3a_branch2a) → 12 (res4a_branch2a) → 6 (res5a_branch2a)")


def test_explain_command():
    runner = CliRunner()
    table = runner.invoke(app, ["explain", "resnet50", "res3a_branch2a", "--input", "224"])
    assert table.exit_code == 0
    assert "56×56×256 from res2c_relu" in table.stdout and "25,690,112" in table.stdout
    data = json.loads(runner.invoke(app, ["explain", "resnet50-2019", "pool1", "--format", "json"]).stdout)
    assert set(data) == {"resnet_inspect", "spec", "input", "layer", "op", "detail", "inputs", "output_shape", "steps"}
    assert data["output_shape"] == [55, 55, 64] and data["inputs"] == [{"name": "conv1_relu", "output_shape": [112, 112, 64]}]
    assert {"quantity", "arithmetic", "value"} == set(data["steps"][0])
    bad = runner.invoke(app, ["explain", "resnet50", "nope"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: LAYER: no layer named 'nope'")
