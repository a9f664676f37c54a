"""A wrong layer name in the Python API is a clear error that suggests the closest names."""

from __future__ import annotations

import pytest

import resnet_inspect
from resnet_inspect.core.errors import UnknownLayer


def test_a_wrong_layer_name_suggests_the_closest():
    result = resnet_inspect.trace("resnet50")
    with pytest.raises(UnknownLayer) as caught:
        result.layer("res2x")
    # res2a, res2b and res2c each differ from "res2x" in one letter (difflib's ratio 0.8)
    assert str(caught.value) == "no layer named 'res2x' in resnet50; did you mean res2c, res2b, res2a?"


def test_it_is_still_a_key_error_and_an_inspect_error():
    result = resnet_inspect.trace("resnet18")
    with pytest.raises(KeyError):
        result.layer("nothing-like-it")
    with pytest.raises(resnet_inspect.InspectError, match="`trace` lists every layer"):
        result.layer("nothing-like-it")
    assert result.layer("conv1").output_shape == (112, 112, 64)  # (224 + 2·3 − 7) // 2 + 1 = 112


def _calls():
    from resnet_inspect.analysis.memory import memory_profile
    from resnet_inspect.execute.verify import verify
    from resnet_inspect.model.naming import names_in

    trace = resnet_inspect.trace
    return {
        "input": lambda: trace("resnet50", input="x"),
        "batch": lambda: verify("resnet18", batch=0),
        "seed": lambda: verify("resnet18", seed=-1),
        "level": lambda: resnet_inspect.diagram("resnet50", level="x"),
        "dtype": lambda: memory_profile(trace("resnet50"), dtype="float8"),
        "flops": lambda: resnet_inspect.flops("resnet50", ["224", "x"]),
        "params": lambda: resnet_inspect.params("resnet50", "0"),
        "names": lambda: names_in(resnet_inspect.load_graph("resnet50"), "onnx"),
    }


@pytest.mark.parametrize("name", sorted(_calls()))
def test_api_errors_name_arguments_not_flags(name):
    with pytest.raises(resnet_inspect.InspectError) as caught:
        _calls()[name]()
    assert "--" not in str(caught.value) and not (caught.value.field or "").startswith("--")


def test_the_cli_still_names_the_flag():
    from typer.testing import CliRunner

    from resnet_inspect.cli import app

    result = CliRunner().invoke(app, ["verify", "resnet18", "--batch", "0"])
    assert result.exit_code == 2 and result.stderr == "error: --batch: --batch must be a whole number from 1 to 1,000,000, got 0\n"
