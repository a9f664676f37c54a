"""One home for JSON contracts: what a command prints with --format json is the `to_json()` of
the result the Python API returns for the same question (the renderers only lay results out)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.analysis.counts import flops, params
from resnet_inspect.analysis.diff import diff_specs
from resnet_inspect.analysis.explain import explain
from resnet_inspect.analysis.memory import memory_profile
from resnet_inspect.analysis.receptive import receptive_report
from resnet_inspect.analysis.sweep import sweep
from resnet_inspect.cli import app
from resnet_inspect.analysis.zoo import zoo
from resnet_inspect.model.naming import NameTable

runner = CliRunner()

CASES = {
    "flops": (["flops", "resnet50", "--input", "224", "--input", "320x224"], lambda: flops("resnet50", ["224", "320x224"])),
    "flops --convention": (["flops", "resnet18-torchvision", "--convention", "fvcore"],
                           lambda: flops("resnet18-torchvision", None, "fvcore")),
    "params": (["params", "resnet50v2", "--input", "300"], lambda: params("resnet50v2", "300")),
    "names": (["names", "resnet50v2"], lambda: NameTable.of(resnet_inspect.load_graph("resnet50v2"))),
    "list": (["list"], zoo),
    "diff": (["diff", "resnet50", "resnet50-torchvision"], lambda: diff_specs("resnet50", "resnet50-torchvision")),
    "explain": (["explain", "resnet50", "res3a_branch2a"], lambda: explain("resnet50", "res3a_branch2a")),
    "rf": (["rf", "resnet18-torchvision", "--input", "160"],
           lambda: receptive_report(resnet_inspect.trace("resnet18-torchvision", 160))),
    "memory": (["memory", "resnet34"], lambda: memory_profile(resnet_inspect.trace("resnet34"))),
    "sweep": (["flops", "resnet50-torchvision", "--input", "160:256:32"],  # a range includes its stop
              lambda: sweep(resnet_inspect.load_graph("resnet50-torchvision"), [(160, 160), (192, 192), (224, 224), (256, 256)])),
}


def _json_of(result) -> str:
    from resnet_inspect.core.text import to_json

    return result.to_json() if hasattr(result, "to_json") else to_json(result.to_dict())


@pytest.mark.parametrize("name", CASES)
def test_the_cli_prints_the_api_results_contract(name):
    args, api = CASES[name]
    out = runner.invoke(app, [*args, "--format", "json"])
    assert out.exit_code == (1 if name == "diff" else 0), out.output  # diff exits 1: the specs differ
    assert out.stdout.rstrip("\n") == _json_of(api())
